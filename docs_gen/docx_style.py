"""What every officebot .docx shares: Chinese that renders everywhere, text a .docx can hold,
table headers that repeat.

Chinese text needs an East Asian font named in the document: python-docx's default template
names only theme fonts, which LibreOffice and Word on a non-Chinese system resolve to fonts
without Chinese glyphs. So ``use_east_asian_font`` names one in ``w:rFonts/@w:eastAsia`` of the
document defaults and the common styles (the theme attribute, which would win over it, is
removed) and declares ``zh-CN`` as the East Asian language.
"""

from __future__ import annotations

import re

from docx.document import Document as DocxDocument
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.oxml.text.font import CT_RPr
from docx.table import Table

DEFAULT_EAST_ASIAN_FONT = "Microsoft YaHei"
"""微软雅黑: on every Windows with Word; LibreOffice substitutes the system's CJK font."""
STYLED = ("Normal", "Title", "Heading 1", "Heading 2", "Heading 3", "Caption")

LANGUAGE_TAGS = {"zh": "zh-CN", "en": "en-US"}
# Characters XML 1.0 cannot hold (python-docx refuses them): C0 controls but tab and line
# breaks, lone surrogates, U+FFFE and U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """``text`` without the characters a .docx cannot hold."""
    return _NOT_XML.sub("", text)


def set_east_asian(r_pr: CT_RPr, font: str, language_tag: str) -> None:
    """Name ``font`` for East Asian text in a ``w:rPr`` (and drop the theme font that would win
    over it); declare the languages of the text."""
    r_fonts = r_pr.get_or_add_rFonts()
    r_fonts.attrib.pop(qn("w:eastAsiaTheme"), None)
    r_fonts.set(qn("w:eastAsia"), font)
    lang = r_pr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        r_pr.insert_element_before(lang, "w:eastAsianLayout", "w:specVanish", "w:oMath")
    lang.set(qn("w:val"), language_tag)
    lang.set(qn("w:eastAsia"), "zh-CN")


def use_east_asian_font(document: DocxDocument, font: str, language_tag: str) -> None:
    styles_element = document.styles.element
    defaults = styles_element.find(f"{qn('w:docDefaults')}/{qn('w:rPrDefault')}/{qn('w:rPr')}")
    if isinstance(defaults, CT_RPr):
        set_east_asian(defaults, font, language_tag)
    for name in STYLED:
        style = document.styles[name]
        set_east_asian(style.element.get_or_add_rPr(), font, language_tag)
    # any other style that names a theme East Asian font would still show Latin-only glyphs
    for r_fonts in styles_element.iter(qn("w:rFonts")):
        if r_fonts.get(qn("w:eastAsiaTheme")) is not None:
            r_fonts.attrib.pop(qn("w:eastAsiaTheme"))
            r_fonts.set(qn("w:eastAsia"), font)


def repeat_header(table: Table) -> None:
    """The first row repeats on every page and reads as a header to screen readers."""
    tr_pr = table.rows[0]._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    tr_pr.append(header)
