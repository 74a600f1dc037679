"""The description renderer lets Markdown through and nothing executable."""
import pytest

from explorer.markdown import first_line, render_markdown

ATTACKS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1))",
    "<a href=\"javascript&#58;alert(1)\">x</a>",
    "<svg onload=alert(1)>",
    "<iframe src=\"https://evil.example\"></iframe>",
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
    "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
    "![x](javascript:alert(1))",
    "<p onclick=\"alert(1)\">hi</p>",
    "<form action=\"/evil\"><input name=x></form>",
]


@pytest.mark.parametrize("source", ATTACKS)
def test_nothing_executable_survives(source):
    html = str(render_markdown(source)).lower()
    assert "<script" not in html
    assert "javascript:" not in html
    assert "onerror" not in html and "onload" not in html and "onclick" not in html
    assert "<iframe" not in html and "<svg" not in html and "<form" not in html and "style=" not in html
    assert "data:text/html" not in html


def test_markdown_features_render():
    html = str(render_markdown("# Title\n\n**bold** [link](https://example.com)\n\n|a|b|\n|-|-|\n|1|2|\n\n```\ncode\n```"))
    assert "<h1>Title</h1>" in html
    assert "<strong>bold</strong>" in html
    assert 'href="https://example.com"' in html and "noopener" in html
    assert "<table>" in html and "<pre><code>" in html


def test_empty_description_renders_nothing():
    assert render_markdown("") == "" and render_markdown(None) == ""


def test_first_line_is_plain_and_bounded():
    assert first_line("\n# Heading\nmore") == "Heading"
    assert len(first_line("x" * 500, 50)) == 50
