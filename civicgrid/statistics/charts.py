"""The charts of a publication's PDF, drawn by matplotlib (Agg, no pyplot: safe in the API's threads), as PNG.

Chinese text needs a CJK font that both matplotlib and ReportLab can use: a TrueType-outline
font (ReportLab embeds TrueType only; Noto CJK's OpenType/CFF files it cannot). `cjk_font()` takes the
`statistics.cjk_font` setting when set, else the first of the Debian fonts below; `make setup` installs
fonts-wqy-microhei (deploy/debian/setup.sh).
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from matplotlib import font_manager
from matplotlib.figure import Figure

from civicgrid.statistics.shaping import Bucket, Count, Trend

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # Debian fonts-wqy-microhei
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # Debian fonts-wqy-zenhei
    "/usr/share/fonts/truetype/arphic/uming.ttc",  # Debian fonts-arphic-uming
)
DPI = 150
BLUE, GREY = "#2f6db5", "#b0b7c3"


class NoCjkFont(RuntimeError):
    """No font that can write Chinese: the PDF would show empty boxes, so it is not made."""


def cjk_font(configured: Path | None = None) -> Path:
    for candidate in ([configured] if configured else [Path(p) for p in FONT_CANDIDATES]):
        if candidate.is_file():
            return candidate
    raise NoCjkFont("no CJK TrueType font found: run `make setup` (installs fonts-wqy-microhei) or set "
                    f"statistics.cjk_font to a .ttf/.ttc file; looked for {configured or ', '.join(FONT_CANDIDATES)}")


@cache
def family_of(path: Path) -> str:
    """The font's family name, registered with matplotlib (once per file)."""
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path)).get_name()


def _figure(width_in: float = 7.0, height_in: float = 3.0) -> Figure:
    fig = Figure(figsize=(width_in, height_in), dpi=DPI, layout="constrained")
    fig.set_facecolor("white")
    return fig


def _png(fig: Figure) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def _style(family: str) -> dict[str, object]:
    return {"family": family, "size": 9}


def trend_chart(trend: Trend, title: str, family: str) -> bytes:
    fig = _figure()
    ax = fig.add_subplot()
    x = list(range(len(trend.points)))
    label = "%m-%d"
    ax.plot(x, [p.cases for p in trend.points], color=BLUE, marker="o", markersize=3, label="本期")
    ax.plot(x, [p.previous_cases for p in trend.points], color=GREY, linestyle="--", label="上期")
    step = max(1, len(x) // 12)
    ax.set_xticks(x[::step], [p.start.strftime(label) for p in trend.points][::step], fontdict=_style(family))
    ax.set_ylabel("案件数" + ("（日）" if trend.bucket is Bucket.DAY else "（周）"), fontdict=_style(family))
    ax.set_title(title, fontdict={**_style(family), "size": 11})
    ax.legend(prop=font_manager.FontProperties(family=family, size=9))
    ax.grid(axis="y", alpha=0.3)
    ax.set_ylim(bottom=0)
    return _png(fig)


def bar_chart(counts: tuple[Count, ...], title: str, family: str, limit: int = 10) -> bytes:
    """Horizontal bars, the largest on top."""
    shown = list(counts[:limit])[::-1]
    fig = _figure(height_in=max(1.6, 0.28 * len(shown) + 0.9))
    ax = fig.add_subplot()
    ax.barh(range(len(shown)), [c.totals.cases for c in shown], color=BLUE)
    ax.set_yticks(range(len(shown)), [c.name[:16] for c in shown], fontdict=_style(family))
    for i, c in enumerate(shown):
        ax.text(c.totals.cases, i, f" {c.totals.cases}", va="center", fontsize=8)
    ax.set_title(title, fontdict={**_style(family), "size": 11})
    ax.set_xlabel("案件数", fontdict=_style(family))
    ax.margins(x=0.12)
    return _png(fig)


def source_chart(counts: tuple[Count, ...], title: str, family: str) -> bytes:
    fig = _figure(width_in=7.0, height_in=2.6)
    ax = fig.add_subplot()
    if counts:
        ax.pie([c.totals.cases for c in counts], labels=[f"{c.name} {c.share or 0:.1%}" for c in counts],
               textprops=_style(family), startangle=90, counterclock=False)
    else:
        ax.text(0.5, 0.5, "本期无案件", ha="center", va="center", fontdict=_style(family))
        ax.set_axis_off()
    ax.set_title(title, fontdict={**_style(family), "size": 11})
    return _png(fig)
