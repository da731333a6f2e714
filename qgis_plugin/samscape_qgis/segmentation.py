"""The Segmentation workflow in QGIS: the panels' buttons, the map tools and the keys go to the
session on the engine; its answers go to the rubber bands, the panels and the project. Nothing is
decided here that the engine decides (masks, polygons, CRS transforms of prompts and results,
writing the output layer)."""

from __future__ import annotations

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsMapLayer,
    QgsPointXY,
    QgsProject,
    QgsRectangle,
)
from qgis.gui import QgsMapCanvas, QgsMapTool, QgsMapToolPan
from qgis.PyQt.QtCore import QObject

from . import preferences, project_layers
from .client import Reply
from .crs import from_engine, transform_rect
from .engine import RUNNING, Engine
from .labels import say
from .live import LIVE, VisibleExport, export_visible, raster_path
from .maptools import BOX, FOREGROUND, LABELS, TOOLS, make_tools
from .options_panel import OptionsPanel
from .output import Output
from .output_panel import OutputPanel
from .preferences import DEFAULT_OPTIONS, DEFAULT_STYLE, Options, Style
from .prompts_panel import PromptsPanel
from .rubberbands import SceneBands
from .session import SegmentationSession
from .source_panel import SourcePanel
from .styles_panel import StylesPanel


class Segmentation(QObject):
    """One feature folder segmented on `canvas` with the engine `engine`, shown in the panels.
    `tool` is the prompt tool chosen (fg, bg or box); it is the canvas's tool once a folder is loaded
    and until the user picks another QGIS tool, or turns Enable off. The Styles and Options tabs
    start from the stored preferences, and every change is stored."""

    def __init__(self, engine: Engine, canvas: QgsMapCanvas, source_panel: SourcePanel,
                 prompts_panel: PromptsPanel, output_panel: OutputPanel, parent: QObject | None = None,
                 *, styles_panel: StylesPanel, options_panel: OptionsPanel) -> None:
        super().__init__(parent)
        self.engine = engine
        self.canvas = canvas
        self.source_panel = source_panel
        self.prompts_panel = prompts_panel
        self.styles_panel = styles_panel
        self.options_panel = options_panel
        self.options = options_panel.options()
        self.session = SegmentationSession(self)
        self.output_panel = output_panel
        self.output = Output(self.session, output_panel, self)
        self.bands = SceneBands(canvas, styles_panel.style())
        self.tools = make_tools(canvas)
        self.pan = QgsMapToolPan(canvas)
        self.tool = FOREGROUND
        self.source_crs = QgsCoordinateReferenceSystem()
        self._export: VisibleExport | None = None  # a layer being exported for the latest Load
        self._models_reply: Reply | None = None
        self._wire()
        styles_panel.show_style(preferences.load_style())  # applied as any change is
        options_panel.show_options(preferences.load_options())
        if engine.state == RUNNING:
            self.session.set_client(engine.client())
            self._list_models()

    def _wire(self) -> None:
        session, source, prompts = self.session, self.source_panel, self.prompts_panel
        self.engine.ready.connect(self._engine_ready)
        self.engine.stopped.connect(self._engine_gone)
        self.engine.failed.connect(self._engine_gone)
        session.source_loaded.connect(self._loaded)
        session.changed.connect(self._changed)
        session.preview.shown.connect(lambda shown: self.bands.show_preview(shown, session.crs))
        session.message.connect(self._message)
        self.output.message.connect(self._message)
        session.reset.connect(self._reset)
        session.model_missing.connect(source.offer_model)
        source.load_requested.connect(self.load)
        source.live_requested.connect(self.load_live)
        session.progress.chips_changed.connect(lambda _: self._show_boundary(self.options.show_boundary))
        source.add_raster_requested.connect(self.add_raster)
        source.zoom_requested.connect(self.zoom_to_source)
        prompts.tool_chosen.connect(self.set_tool)
        prompts.undo_button.clicked.connect(session.undo)
        prompts.clear_button.clicked.connect(session.clear)
        prompts.save_button.clicked.connect(self.output.save)
        prompts.undo_save_button.clicked.connect(self.output.undo_save)
        self.styles_panel.changed.connect(self._style_changed)
        self.options_panel.changed.connect(self._options_changed)
        self.options_panel.reset_requested.connect(self.reset_preferences)
        for tool in self.tools.values():
            tool.hovered.connect(self._hovered)
            tool.left.connect(session.preview.clear)
            tool.shortcut.connect(self.shortcut)
        for kind in LABELS:
            self.tools[kind].clicked.connect(self._clicked)
        box = self.tools[BOX]
        box.dragged.connect(self._box_dragged)
        box.drawn.connect(self._box_drawn)
        box.cancelled.connect(lambda: self.bands.show_drag(None, self._canvas_crs()))
        self.canvas.destinationCrsChanged.connect(self._canvas_crs_changed)
        self.canvas.mapToolSet.connect(self._map_tool_set)

    def _engine_ready(self, _url: str) -> None:
        self.session.set_client(self.engine.client())
        self._list_models()

    def _list_models(self) -> None:
        """Fill the live model selector with the engine's models (unless the dock closed meanwhile)."""
        def answered(reply: Reply) -> None:
            if reply is self._models_reply and reply.ok:
                self.source_panel.show_models(reply.data["models"])

        self._models_reply = self.session.client.get("/api/models").then(answered)

    def _engine_gone(self, *_: object) -> None:
        self.session.set_client(None)

    def _canvas_crs_changed(self) -> None:
        self.session.set_crs(self._canvas_crs())

    def _canvas_crs(self) -> QgsCoordinateReferenceSystem:
        return self.canvas.mapSettings().destinationCrs()

    # the Input/Output tab

    def load(self, folder: str, model: str = "") -> None:
        """Open the feature folder (with `model`, for a Geo-SAM folder: '' for the one it records),
        prompting in the canvas's CRS, saving beside it by default."""
        self._export = None
        self.source_panel.offer_model("")
        self.session.load(folder, self._canvas_crs(), self.output.path_for(folder), model)

    def load_live(self, layer: QgsMapLayer | None, model: str) -> None:
        """Open the raster `layer` for live encoding with `model`, saving beside its file by default."""
        self._export = None
        path, problem = raster_path(layer)
        if problem:
            say(self.source_panel.status, problem, "error")
        elif path:
            self.session.load_live(path, model, self._canvas_crs(), self.output.path_for(path))
        else:  # XYZ, WMS...: what the map shows of it, as a GeoTIFF
            say(self.source_panel.status, f"exporting what the map shows of {layer.name()} to a GeoTIFF…")
            task = self._export = export_visible(layer, self.canvas)
            task.taskCompleted.connect(lambda: self._exported(task, model))
            task.taskTerminated.connect(lambda: self._exported(task, model))

    def _exported(self, task: VisibleExport, model: str) -> None:
        if task is not self._export:
            return  # a newer Load replaced it
        self._export = None
        if not task.path:
            cancelled = f"the export of {task.name} was cancelled; Load again"
            say(self.source_panel.status, task.error or cancelled, "error")
            return
        self.session.load_live(task.path, model, self._canvas_crs(), self.output.path_for(task.path))

    def add_raster(self) -> None:
        raster = (self.session.source or {}).get("raster")
        if raster:
            layer, line = project_layers.add_raster(raster)
            say(self.source_panel.raster, line, "ok" if layer is not None else "error")

    def zoom_to_source(self) -> None:
        """Show the source's whole extent (transformed to the canvas's CRS)."""
        if self.session.source is None:
            return
        extent = QgsRectangle(*self.session.source["extent"])
        self.canvas.setExtent(transform_rect(extent, self.source_crs, self._canvas_crs()))
        self.canvas.refresh()

    def _show_boundary(self, on: bool) -> None:
        live = (self.session.source or {}).get("mode") == LIVE
        self.bands.show_boundary(self.session.chips if on else None, self.source_crs, live)

    # the session's answers

    def _loaded(self, info: dict, chips: dict) -> None:
        self.source_crs = from_engine(info["crs"], info.get("crs_wkt", ""))
        self.source_panel.show_source(info)
        self._show_boundary(self.options.show_boundary)
        self.set_tool(self.tool)

    def _changed(self, session: dict) -> None:
        self.bands.show_session(session, self.session.crs)
        self.prompts_panel.show_session(session)

    def _message(self, topic: str, text: str, level: str) -> None:
        if topic == "source":
            say(self.source_panel.status, text, level)
        elif topic == "output":
            say(self.output_panel.output_status, text, level)
        if topic in ("prompt", "output"):
            say(self.prompts_panel.output_status, text, level)

    def _reset(self) -> None:
        self.bands.clear()
        self.source_panel.show_source(None)
        self.prompts_panel.show_session(None)
        if self.canvas.mapTool() in self.tools.values():
            self.canvas.unsetMapTool(self.canvas.mapTool())

    # the map tools and the keys

    def set_tool(self, kind: str) -> None:
        """Prompt with `kind` (fg, bg, box): the canvas's tool once a folder is loaded."""
        self.tool = kind
        self.session.preview.clear()
        self.bands.show_drag(None, self._canvas_crs())
        if self.session.session is not None and self.options.enabled:
            self.canvas.setMapTool(self.tools[kind])
        self.prompts_panel.show_tool(kind if self.canvas.mapTool() is self.tools[kind] else None)

    def _map_tool_set(self, new: QgsMapTool, _old: QgsMapTool) -> None:
        if new not in self.tools.values():
            self.prompts_panel.show_tool(None)

    def shortcut(self, name: str) -> None:
        """A key of the dock, pressed while a samscape tool is the canvas's tool."""
        session = self.session
        if not self.options.enabled:
            return
        if name == "next_tool":
            self.set_tool(TOOLS[(TOOLS.index(self.tool) + 1) % len(TOOLS)])
        elif name == "preview":
            self.options_panel.preview.toggle()
        else:
            {"save": self.output.save, "clear": session.clear, "undo": session.undo,
             "undo_save": self.output.undo_save}[name]()

    def _same_crs(self) -> bool:
        """Whether the session takes the canvas's coordinates (not so while it is replaced after a
        change of the canvas's CRS)."""
        return self._canvas_crs() == self.session.crs

    def _clicked(self, point: QgsPointXY, label: int) -> None:
        if self._same_crs():
            self.session.add_point(point.x(), point.y(), label)

    def _hovered(self, point: QgsPointXY) -> None:
        if self.tool == BOX:
            return
        if not self._inside_source(point) or not self._same_crs():
            self.session.preview.clear()
            return
        self.session.preview.point(point.x(), point.y(), LABELS[self.tool])

    def _inside_source(self, point: QgsPointXY) -> bool:
        source = self.session.source
        if source is None:
            return False
        try:
            there = QgsCoordinateTransform(self._canvas_crs(), self.source_crs, QgsProject.instance()
                                           ).transform(point)
        except Exception:  # QgsCsException: a point the source's CRS cannot hold
            return False
        return QgsRectangle(*source["extent"]).contains(there)

    def _box_dragged(self, rect: QgsRectangle) -> None:
        self.bands.show_drag(rect, self._canvas_crs())
        if self._same_crs():
            self.session.preview.box(rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum())

    def _box_drawn(self, rect: QgsRectangle) -> None:
        self.bands.show_drag(None, self._canvas_crs())
        if self._same_crs():
            self.session.set_box(rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum())

    # the Styles and Options tabs

    def _style_changed(self, style: Style) -> None:
        self.bands.set_style(style)
        preferences.save_style(style)

    def _options_changed(self, options: Options) -> None:
        """Apply what changed; a new vectorisation re-traces the current result on the engine."""
        before, self.options = self.options, options
        preferences.save_options(options)
        if (options.max_polygon_only, options.vectorize) != (before.max_polygon_only, before.vectorize):
            self.session.set_vector(options.max_polygon_only, options.vectorize)
        if options.preview != before.preview:
            self.session.preview.set_enabled(options.preview)
        if options.show_boundary != before.show_boundary:
            self._show_boundary(options.show_boundary)
        if options.enabled != before.enabled:
            self._show_enabled()
            if options.enabled:
                self.set_tool(self.tool)
            elif self.canvas.mapTool() in self.tools.values():
                self.canvas.setMapTool(self.pan)

    def _show_enabled(self) -> None:
        """The Prompts tab's tool buttons work only while Enable is on (their box is greyed)."""
        self.prompts_panel.tool_buttons[FOREGROUND].parentWidget().setEnabled(self.options.enabled)

    def reset_preferences(self) -> None:
        """Styles and options back to their defaults (and stored so)."""
        self.styles_panel.show_style(DEFAULT_STYLE)
        self.options_panel.show_options(DEFAULT_OPTIONS)

    def close(self) -> None:
        """Put the tools down and take the bands off the canvas (the dock is going)."""
        self._models_reply = None
        self.output.close()
        if self.canvas.mapTool() in (*self.tools.values(), self.pan):
            self.canvas.unsetMapTool(self.canvas.mapTool())
        self.bands.remove()
