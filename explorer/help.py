"""Help that helps: the mouse and keyboard (keys read from the window's own menus, so they never go
stale), what each panel shows, and which files open and how."""

from __future__ import annotations

from html import escape

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTabWidget, QTextBrowser, QVBoxLayout

from explorer import theme

MOUSE = [
    ("Viewport", "drag", "turn the view about the scene"),
    ("Viewport", "Ctrl+drag, or middle-drag", "move the view sideways"),
    ("Viewport", "wheel", "nearer / farther"),
    ("Viewport", "click a frustum", "put the imagined camera exactly on that real camera"),
    ("Generated image", "drag", "orbit the imagined camera about the scene centre"),
    ("Generated image", "wheel, or + and −", "move the imagined camera nearer / farther"),
    ("Generated image", "arrow keys (click it first)", "orbit the imagined camera in steps"),
    ("Thumbnails", "click a picture", "put the imagined camera on that view"),
    ("Thumbnails", "tick the box", "give that view to the model as context (untick to score the model on it)"),
    ("Camera path", "press the ruler and drag", "scrub: the imagined camera follows"),
    ("Camera path", "click a keyframe / drag it", "go there / reorder"),
    ("Window", "drop files or folders", "open them (scenes, photos, models)"),
]

PANELS = [
    ("Viewport", "Every real camera as a frustum carrying its photo: <b style='color:{context}'>orange</b> ones "
                 "are given to the model as context, grey ones are not, the white one is selected. The "
                 "<b style='color:{imagined}'>blue</b> frustum is the imagined camera, with what the model paints "
                 "inside it. Dots are the capture's sparse 3D points, the <b style='color:{region}'>violet</b> box "
                 "the region the model considers, the blue line the camera path. A procedural scene also shows "
                 "its true geometry (View › Scene geometry)."),
    ("Generated", "What the model imagines at the imagined camera: the mean of several samples once the camera "
                  "stops, one quick sample (a draft) while it moves."),
    ("Real", "The truth to compare with: the exact render for procedural scenes; for photos, the photo when the "
             "imagined camera sits on a real camera the model was not given, else the nearest photo (shown for "
             "orientation, not scored)."),
    ("Classical", "Where shown: the classical image-based rendering baseline (plane sweep over the nearest "
                  "photos), the honest non-neural comparison."),
    ("Difference", "|generated − real| per pixel (black: equal, bright: 0.5 or more apart), with PSNR and SSIM "
                   "below the panels."),
    ("Uncertainty", "How much the model's samples disagree at each pixel (their spread): where it is unsure."),
    ("Job panel", "Pose estimation, fitting and video rendering run in the background with a progress bar and "
                  "Cancel; fitting plots its loss and the held-out PSNR against the nearest-photo (and "
                  "classical) baselines, and the Generated view follows each new checkpoint."),
    ("Camera path", "Keyframes of a path for the imagined camera, as wide as the seconds to the next one; "
                    "Add view, Delete, drag to reorder, Play, Load/Save JSON, Render video (Camera › Camera path "
                    "timeline, T)."),
    ("Region", "A box limiting what the model and the baselines consider, remembered for each capture "
               "(View › Crop region, C)."),
    ("Status bar", "The scene, its number of views and context views, the model, where the imagined camera is, "
                   "and how long the last view took."),
]

FORMATS = [
    ("NeRF / instant-ngp", "<code>transforms.json</code> or its folder; the sparse points of a COLMAP model "
                           "beside it are shown (what <code>gqn poses</code> writes)"),
    ("COLMAP", "a sparse model folder (<code>sparse/0</code>, text or binary) or the folder above it"),
    ("LLFF", "a folder with <code>poses_bounds.npy</code> and <code>images/</code>"),
    ("Project datasets", "a folder made by <code>gqn scenes</code>; PgDown / PgUp step through its scenes"),
    ("gqn-datasets", "a DeepMind <code>.tfrecord</code> file"),
    ("Photos without poses", "a folder of JPEG/PNG (or the photos themselves): the app offers to estimate their "
                             "poses with structure from motion in the background, then opens the result"),
    ("Models", "a folder with <code>model.safetensors</code> + <code>config.json</code>, or a training or fit "
               "run folder (its latest checkpoint)"),
]

HOW_TO_OPEN = ("Open with File › Open (Ctrl+O), Open photos, Open model (Ctrl+M) or Open recent; drop files "
               "or folders onto the window; or name them on the command line: "
               "<code>python main.py SCENE [MODEL]</code>. Frames that cannot be used are skipped and listed "
               "(<code>gqn info PATH</code> tells why).")


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    head = "".join(f"<th align='left'>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table cellspacing='0' cellpadding='4'><tr>{head}</tr>{body}</table>"


def keys_html(shortcuts: list[tuple[str, str, str]]) -> str:
    """The mouse, then every menu command with a key: (menu, command, key sequence)."""
    mouse = _table([tuple(escape(c) for c in row) for row in MOUSE], ("where", "mouse", "does"))
    keys = _table([(f"<b>{escape(key)}</b>", escape(command), escape(menu)) for menu, command, key in shortcuts],
                  ("key", "does", "menu"))
    return f"<h3>Mouse</h3>{mouse}<h3>Keyboard</h3>{keys}"


def panels_html() -> str:
    colours = {"context": theme.CONTEXT, "imagined": theme.IMAGINED, "region": theme.REGION}
    return _table([(f"<b>{escape(name)}</b>", text.format(**colours)) for name, text in PANELS], ("panel", "shows"))


def formats_html() -> str:
    return f"<p>{HOW_TO_OPEN}</p>" + _table([(f"<b>{escape(name)}</b>", how) for name, how in FORMATS],
                                            ("what", "give it"))


class HelpDialog(QDialog):
    """Three tabs: Mouse and keys, Panels, Opening files."""

    TABS = ("Mouse and keys", "Panels", "Opening files")

    def __init__(self, shortcuts: list[tuple[str, str, str]], parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("GQN Scene Explorer help")
        self.tabs = QTabWidget()
        for title, html in zip(self.TABS, (keys_html(shortcuts), panels_html(), formats_html())):
            page = QTextBrowser()
            page.setOpenExternalLinks(False)
            page.setHtml(html)
            self.tabs.addTab(page, title)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(buttons)
        self.resize(720, 560)

    def show_tab(self, title: str) -> None:
        self.tabs.setCurrentIndex(self.TABS.index(title))
        self.show()
        self.raise_()
        self.activateWindow()

    def text(self, title: str) -> str:
        return self.tabs.widget(self.TABS.index(title)).toPlainText()
