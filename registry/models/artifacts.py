"""The artifact manifest: the SHA-256 (content identity) and CRC-32 (transfer check) of every artifact file,
recorded when the bytes are written.

A copy then verifies its destination against the recorded checksum instead of hashing the source as well. An
entry is trusted only while the file still has the size, modification time and inode it had when it was
recorded; anything else means "hash it again"."""
from django.db import models


class ArtifactChecksum(models.Model):
    path = models.CharField(max_length=1024, unique=True)  # relative to the artifact root, as storage spells it
    size = models.BigIntegerField()
    mtime_ns = models.BigIntegerField(null=True, blank=True)  # None on backends without a filesystem stat
    inode = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64)
    crc32 = models.CharField(max_length=8)
    recorded_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.path} {self.sha256[:12]}"


class ArtifactStoreSwitch(models.Model):
    """Which store holds the artifacts once `manage.py artifacts_migrate` has moved them: one row (pk 1), absent
    until a move switches the deployment. registry.storage reads it (ARTIFACT_STORE is the default without it).

    While `frozen`, writes to the store wait (503 TEMPORARILY_UNAVAILABLE, jobs retry later) so the move's last
    pass sees every file that will ever be on the old store."""

    store = models.CharField(max_length=1024, blank=True, default="")  # "" = the filesystem under ARTIFACT_ROOT
    frozen = models.BooleanField(default=False)
    moving_to = models.CharField(max_length=1024, blank=True, default="")
    switched_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.store or "filesystem"
