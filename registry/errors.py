"""The typed errors services raise; each adapter (MLflow API, UC API, UI) maps them in one place."""


class RegistryError(Exception):
    error_code = "INTERNAL_ERROR"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(RegistryError):
    error_code = "RESOURCE_DOES_NOT_EXIST"


class AlreadyExists(RegistryError):
    error_code = "RESOURCE_ALREADY_EXISTS"


class InvalidParameter(RegistryError):
    error_code = "INVALID_PARAMETER_VALUE"


class BadRequest(InvalidParameter):
    """A request missing what the endpoint cannot do without, where MLflow answers BAD_REQUEST (400)."""

    error_code = "BAD_REQUEST"


class InvalidState(RegistryError):
    """The object exists and may be changed in general, but not in its current state (e.g. files a registered
    version was created from)."""

    error_code = "INVALID_STATE"


class PermissionDenied(RegistryError):
    """Raised only when the principal may see the object; otherwise services raise NotFound."""

    error_code = "PERMISSION_DENIED"


class Unauthenticated(RegistryError):
    error_code = "UNAUTHENTICATED"


class TemporarilyUnavailable(RegistryError):
    """Refused for now, not for good (503): the same request may succeed when retried in a little while."""

    error_code = "TEMPORARILY_UNAVAILABLE"
