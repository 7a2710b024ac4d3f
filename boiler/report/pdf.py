"""The report as PDF: the HTML page laid out by WeasyPrint, an optional extra
(`pip install 'mining-boiler[pdf]'`), so that the plant-room box needs nothing more."""

from __future__ import annotations

from pathlib import Path


class PdfUnavailable(Exception):
    """WeasyPrint (or the system libraries it needs) is not installed."""


INSTALL_HINT = ("PDF output needs WeasyPrint: pip install 'mining-boiler[pdf]' (on Debian it also needs "
                "libpango-1.0-0 and libpangoft2-1.0-0); or write --format html and print it from a browser")


def render_pdf(html: str, path: Path) -> None:
    try:
        import weasyprint  # optional extra: loaded only when a PDF is asked for
    except (ImportError, OSError) as exc:  # OSError: the package is there but Pango is not
        raise PdfUnavailable(f"{INSTALL_HINT} ({exc})") from exc
    weasyprint.HTML(string=html).write_pdf(path)
