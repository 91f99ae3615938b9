#!/usr/bin/python3
"""ReportLab peer of the CV PDF benchmark (issue 19).

    reportlab_cv.py CV.json N [OUT.pdf]

Renders the CV (the cv_data JSON that `cvpdf_pdf_bench --cv X --dump-json F` writes)
N times with Debian's python3-reportlab, in a layout like Malipo's "modern" template:
header band, section headings with rules, entries with right-aligned dates, wrapped
descriptions with bullets, skill chips, a footer with "Page i of n". TrueType fonts are
registered once (ReportLab subsets them per document, as Malipo does); each string uses
the font of its script (ReportLab has no fallback chain and no shaping: Arabic comes out
unjoined, which only makes ReportLab's work lighter). Prints documents per CPU-second.
"""
import io
import json
import sys
import time

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

DEJAVU = "/usr/share/fonts/truetype/dejavu/"
NOTO = "/usr/share/fonts/truetype/noto/"
FONTS = {
    "latin": ("DejaVuSans", DEJAVU + "DejaVuSans.ttf", "DejaVuSans-Bold", DEJAVU + "DejaVuSans-Bold.ttf"),
    "ethiopic": ("NotoEth", NOTO + "NotoSansEthiopic-Regular.ttf", "NotoEth-Bold", NOTO + "NotoSansEthiopic-Bold.ttf"),
    "arabic": ("NotoAr", NOTO + "NotoSansArabic-Regular.ttf", "NotoAr-Bold", NOTO + "NotoSansArabic-Bold.ttf"),
}
for reg, rpath, bold, bpath in FONTS.values():
    pdfmetrics.registerFont(TTFont(reg, rpath))
    pdfmetrics.registerFont(TTFont(bold, bpath))

W, H = A4
LEFT, RIGHT, BOTTOM = 48, W - 48, 54
NAVY = (0.118, 0.306, 0.475)
TEXT = (0.15, 0.16, 0.18)
MUTED = (0.42, 0.45, 0.50)


def font(s, bold=False):
    script = "latin"
    for ch in s:
        o = ord(ch)
        if 0x1200 <= o <= 0x139F or 0x2D80 <= o <= 0x2DDF:
            script = "ethiopic"
            break
        if 0x0600 <= o <= 0x06FF:
            script = "arabic"
            break
    f = FONTS[script]
    return f[2] if bold else f[0]


def wrap(text, fname, size, width):
    lines = []
    for para in text.split("\n"):
        cur = ""
        for word in para.split(" "):
            if not word:
                continue
            cand = word if not cur else cur + " " + word
            if pdfmetrics.stringWidth(cand, fname, size) <= width or not cur:
                cur = cand
            else:
                lines.append(cur)
                cur = word
        lines.append(cur)
    return lines


class Doc:
    def __init__(self, cv):
        self.cv = cv
        self.buf = io.BytesIO()
        self.c = canvas.Canvas(self.buf, pagesize=A4)
        self.page = 1
        self.y = 0

    def text(self, x, y, s, size, color, bold=False, right=False):
        c = self.c
        c.setFillColorRGB(*color)
        f = font(s, bold)
        c.setFont(f, size)
        if right:
            c.drawRightString(x, y, s)
        else:
            c.drawString(x, y, s)

    def ensure(self, h):
        if self.y - h >= BOTTOM:
            return
        self.footer()
        self.c.showPage()
        self.page += 1
        self.c.setFillColorRGB(*NAVY)
        self.c.rect(0, H - 18, W, 18, stroke=0, fill=1)
        self.y = H - 54

    def footer(self):
        self.c.setStrokeColorRGB(0.8, 0.84, 0.88)
        self.c.line(LEFT, 44, RIGHT, 44)
        self.text(LEFT, 30, self.cv["name"], 7.5, MUTED)
        self.text(RIGHT, 30, "Page %d" % self.page, 7.5, MUTED, right=True)

    def section(self, title):
        self.ensure(60)
        self.y -= 14
        self.c.setFillColorRGB(*NAVY)
        self.c.rect(LEFT, self.y - 2, 3, 11, stroke=0, fill=1)
        self.text(LEFT + 9, self.y, title.upper(), 10.5, NAVY, bold=True)
        self.c.setStrokeColorRGB(0.8, 0.84, 0.88)
        self.c.line(LEFT + 100, self.y + 3, RIGHT, self.y + 3)
        self.y -= 16

    def paragraph(self, text, x=LEFT):
        for raw in text.split("\n"):
            bullet = raw.startswith("- ")
            body = raw[2:] if bullet else raw
            indent = 12 if bullet else 0
            f = font(body)
            for i, line in enumerate(wrap(body, f, 9.5, RIGHT - x - indent)):
                self.ensure(13.4)
                if bullet and i == 0:
                    self.text(x + 2, self.y, "\u2022", 9.5, NAVY)
                self.text(x + indent, self.y, line, 9.5, TEXT)
                self.y -= 13.4

    def entry(self, title, sub, dates, desc):
        self.ensure(40)
        self.text(LEFT, self.y, title, 10.5, TEXT, bold=True)
        self.text(RIGHT, self.y, dates, 8.5, MUTED, right=True)
        self.y -= 13
        if sub:
            self.text(LEFT, self.y, sub, 9.8, NAVY)
            self.y -= 14
        if desc:
            self.paragraph(desc)
        self.y -= 6

    def chips(self, items, filled):
        x = LEFT
        self.ensure(20)
        for s in items:
            f = font(s)
            w = pdfmetrics.stringWidth(s, f, 8.5) + 14
            if x + w > RIGHT:
                x = LEFT
                self.y -= 20
                self.ensure(20)
            if filled:
                self.c.setFillColorRGB(0.890, 0.929, 0.965)
                self.c.roundRect(x, self.y - 5, w, 16, 3, stroke=0, fill=1)
            else:
                self.c.setStrokeColorRGB(*NAVY)
                self.c.roundRect(x, self.y - 5, w, 16, 3, stroke=1, fill=0)
            self.text(x + 7, self.y, s, 8.5, NAVY)
            x += w + 6
        self.y -= 24

    def render(self):
        cv, c = self.cv, self.c
        c.setTitle(cv["name"])
        c.setFillColorRGB(*NAVY)
        c.rect(0, H - 120, W, 120, stroke=0, fill=1)
        self.text(LEFT, H - 56, cv["name"], 22, (1, 1, 1), bold=True)
        self.text(LEFT, H - 78, cv["title"], 11, (0.85, 0.9, 0.95))
        self.text(LEFT, H - 102, cv["email"] + "  \u2022  " + cv["phone"], 8.5, (1, 1, 1))
        self.y = H - 150
        if cv.get("summary"):
            self.section("Profile")
            self.paragraph(cv["summary"])
        if cv.get("experience"):
            self.section("Experience")
            for e in cv["experience"]:
                self.entry(e["position"], e["company"], e["duration"], e["description"])
        if cv.get("education"):
            self.section("Education")
            for e in cv["education"]:
                self.entry(e["degree"], e["school"], e["duration"], e["description"])
        if cv.get("skills"):
            self.section("Skills")
            self.chips(cv["skills"], True)
        if cv.get("languages"):
            self.section("Languages")
            self.chips(cv["languages"], False)
        self.footer()
        c.showPage()
        c.save()
        return self.buf.getvalue()


def main():
    cv = json.load(open(sys.argv[1], encoding="utf-8"))
    n = int(sys.argv[2])
    for _ in range(3):  # warm-up
        pdf = Doc(cv).render()
    if len(sys.argv) > 3:
        open(sys.argv[3], "wb").write(pdf)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        pdf = Doc(cv).render()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    print("reportlab docs=%d bytes/doc=%d" % (n, len(pdf)))
    print("wall: %.1f docs/s (%.2f ms/doc)   cpu: %.1f docs per cpu-second (%.2f ms/doc)"
          % (n / wall, wall * 1000 / n, n / cpu, cpu * 1000 / n))


if __name__ == "__main__":
    main()
