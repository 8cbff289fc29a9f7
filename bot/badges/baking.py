"""Badge images and OB 3.0 baking (§5.3): the VC-JWT travels inside the image.

PNG: one ``iTXt`` chunk, keyword ``openbadgecredential``, uncompressed, text = the
compact JWS (written/read with openbadgeslib's ``baking``). SVG: ``xmlns:openbadges=
"https://purl.imsglobal.org/ob/v3p0"`` on ``<svg>`` and, directly after it, an
``<openbadges:credential verify="<JWS>"/>`` element. Images are drawn locally with
Pillow and a system font (DejaVu/Liberation) or Pillow's bundled default font.
"""
from __future__ import annotations

import io
import textwrap
from typing import List, Optional, Tuple, Union
from xml.sax.saxutils import escape, quoteattr

from defusedxml.minidom import parseString
from openbadgeslib import baking as ob_baking
from PIL import Image, ImageDraw, ImageFont

SVG_NS = ob_baking.SVG_NS_OB3
SVG_ELEMENT = ob_baking.SVG_ELEMENT_OB3
PNG_KEYWORD = ob_baking.ITXT_KEYWORD_OB3
SIZE = 512
# level -> (dark, light) colours
COLOURS = {"confirme": ("#0f5e6e", "#d8f3f0"), "expert": ("#6b2d8f", "#fbe7a1")}
_FONTS = {True: ("DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf"),
          False: ("DejaVuSans.ttf", "LiberationSans-Regular.ttf")}
Font = Union[ImageFont.FreeTypeFont, ImageFont.ImageFont]


def _colours(level_id: str) -> Tuple[str, str]:
    return COLOURS.get(level_id, COLOURS["confirme"])


def _lines(title: str) -> List[str]:
    return textwrap.wrap(title, width=16)[:4] or [title]


# --- images ----------------------------------------------------------------------------


def _font(size: int, bold: bool) -> Font:
    for name in _FONTS[bold]:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def _title_layout(title: str) -> Tuple[List[str], int, Font]:
    """Lines of the skill name and the largest font size (≤ 46) where they fit in the circle."""
    lines = _lines(title)
    size = 46 if len(lines) <= 2 else 38
    font = _font(size, True)
    while size > 20 and max(font.getlength(line) for line in lines) > SIZE - 120:
        size -= 2
        font = _font(size, True)
    return lines, size, font


def _centered(draw: ImageDraw.ImageDraw, y: float, text: str, font: Font, fill: str) -> None:
    draw.text((SIZE / 2, y), text, font=font, fill=fill, anchor="mm")


def render_png(title: str, level_label: str, level_id: str) -> bytes:
    """A 512×512 round badge: « ATOUTS », the skill name, the level."""
    dark, light = _colours(level_id)
    image = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((16, 16, SIZE - 16, SIZE - 16), fill=light, outline=dark, width=16)
    _centered(draw, 120, "ATOUTS", _font(30, True), dark)
    lines, size, font = _title_layout(title)
    top = 250 - (len(lines) - 1) * size * 0.6
    for n, line in enumerate(lines):
        _centered(draw, top + n * size * 1.2, line, font, dark)
    draw.rounded_rectangle((146, 360, SIZE - 146, 412), radius=26, fill=dark)
    _centered(draw, 386, level_label.upper(), _font(26, True), light)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def render_svg(title: str, level_label: str, level_id: str) -> bytes:
    dark, light = _colours(level_id)
    lines, size, _ = _title_layout(title)
    top = 250 - (len(lines) - 1) * size * 0.6 + size * 0.35
    spans = "".join(f'<tspan x="256" y="{top + n * size * 1.2:.0f}">{escape(line)}</tspan>'
                    for n, line in enumerate(lines))
    font = 'font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif" font-weight="bold" text-anchor="middle"'
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE}" '
        f'viewBox="0 0 {SIZE} {SIZE}" role="img" aria-label={quoteattr(f"Atouts — {title} — {level_label}")}>'
        f"<title>{escape(f'{title} — {level_label}')}</title>"
        f'<circle cx="256" cy="256" r="232" fill="{light}" stroke="{dark}" stroke-width="16"/>'
        f'<text {font} x="256" y="130" font-size="30" fill="{dark}" letter-spacing="4">ATOUTS</text>'
        f'<text {font} font-size="{size}" fill="{dark}">{spans}</text>'
        f'<rect x="146" y="360" width="220" height="52" rx="26" fill="{dark}"/>'
        f'<text {font} x="256" y="395" font-size="26" fill="{light}">{escape(level_label.upper())}</text>'
        "</svg>"
    ).encode("utf-8")


# --- baking ----------------------------------------------------------------------------


def bake_png(png: bytes, token: str) -> bytes:
    """``png`` with the JWS in an ``openbadgecredential`` iTXt chunk; ValueError if already baked."""
    if ob_baking.has_png(png, keyword=PNG_KEYWORD):
        raise ValueError("image PNG déjà cuite (un seul openbadgecredential autorisé)")
    return ob_baking.bake_png(png, token, keyword=PNG_KEYWORD)


def extract_png(png: bytes) -> Optional[str]:
    return ob_baking.extract_png(png, keyword=PNG_KEYWORD)


def bake_svg(svg: bytes, token: str) -> bytes:
    """``svg`` with ``<openbadges:credential verify=…>`` as first child (replacing any previous one)."""
    doc = parseString(svg)
    try:
        root = doc.documentElement
        if root.tagName.split(":")[-1] != "svg":
            raise ValueError("pas un document SVG")
        for old in list(root.getElementsByTagName(SVG_ELEMENT)):
            old.parentNode.removeChild(old)
        root.setAttribute("xmlns:openbadges", SVG_NS)
        element = doc.createElement(SVG_ELEMENT)
        element.setAttribute("verify", token)
        root.insertBefore(element, root.firstChild)
        return doc.toxml(encoding="UTF-8")
    finally:
        doc.unlink()


def extract_svg(svg: bytes) -> Optional[str]:
    return ob_baking.extract_svg(svg, element=SVG_ELEMENT)


def baked_images(token: str, title: str, level_label: str, level_id: str) -> Tuple[bytes, bytes]:
    """(PNG, SVG) badge images carrying ``token``."""
    return (bake_png(render_png(title, level_label, level_id), token),
            bake_svg(render_svg(title, level_label, level_id), token))
