"""What a browser drew of the demo's page (output/report.html): Chromium's DOM, read back.

`read(dom)` walks the DOM that headless Chromium dumps after the page's scripts ran: per chart
(`<div id="chart-NAME">`), the SVG Plotly drew, its bars (the `path` of each `g.point`) and
their text labels; per table of numbers (`<table class="chart-data" data-chart="NAME">`), its
rows. The tests compare both with the marts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

from typing_extensions import override

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


@dataclass
class Chart:
    svgs: int = 0  # Plotly's <svg class="main-svg">
    bars: list[str] = field(default_factory=list)  # each bar's path `d`
    labels: list[str] = field(default_factory=list)  # each bar's text


@dataclass
class Page:
    charts: dict[str, Chart] = field(default_factory=dict)
    tables: dict[str, list[list[str]]] = field(default_factory=dict)
    links: list[str] = field(default_factory=list)
    scripts_from: list[str] = field(default_factory=list)  # <script src>, <link href>


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] | None = None

    def _scope(self, key: str) -> str | None:
        for _, attrs in reversed(self.stack):
            if key == "chart" and attrs.get("id", "").startswith("chart-"):
                return attrs["id"].removeprefix("chart-")
            if key == "table" and "chart-data" in attrs.get("class", "").split():
                return attrs.get("data-chart")
        return None

    @override
    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {k: v or "" for k, v in attrs_list}
        if tag == "a" and attrs.get("href"):
            self.page.links.append(attrs["href"])
        if (tag == "script" and attrs.get("src")) or (tag == "link" and attrs.get("href")):
            self.page.scripts_from.append(attrs.get("src") or attrs["href"])
        if tag in VOID:
            return
        chart = self._scope("chart")
        if tag == "div" and attrs.get("id", "").startswith("chart-"):
            self.page.charts[attrs["id"].removeprefix("chart-")] = Chart()
        elif chart is not None:
            self._in_chart(self.page.charts[chart], tag, attrs)
        if tag == "tr" and self._scope("table") is not None:
            self.page.tables.setdefault(self._scope("table") or "", []).append([])
        if tag == "td" and self._scope("table") is not None:
            self.text = []
        self.stack.append((tag, attrs))

    def _in_chart(self, chart: Chart, tag: str, attrs: dict[str, str]) -> None:
        parent = self.stack[-1][1].get("class", "").split() if self.stack else []
        classes = attrs.get("class", "").split()
        if tag == "svg" and "main-svg" in classes:
            chart.svgs += 1
        if tag == "path" and "point" in parent:
            chart.bars.append(attrs.get("d", ""))
        if tag == "text" and "bartext" in classes:
            self.text = []

    @override
    def handle_data(self, data: str) -> None:
        if self.text is not None:
            self.text.append(data)

    @override
    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if self.text is not None and tag in {"text", "td"}:
            text, self.text = "".join(self.text).strip(), None
            if tag == "td":
                self.page.tables[self._scope("table") or ""][-1].append(text)
            elif (chart := self._scope("chart")) is not None:
                self.page.charts[chart].labels.append(text)
        while self.stack:
            if self.stack.pop()[0] == tag:
                break


def read(dom: str) -> Page:
    reader = _Reader()
    reader.feed(dom)
    page = reader.page
    page.tables = {name: [row for row in rows if row] for name, rows in page.tables.items()}
    return page
