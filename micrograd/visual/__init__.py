"""Pictures of graphs and training: `draw_dot` (graphviz; a big graph by neuron or by layer, see
`collapse_graph`), the forward and backward passes frame by frame (and as one HTML page,
`save_html`), and plots (matplotlib,
`pip install "micrograd-lab[plot]"`).

Each name is imported from its module on first use (see `micrograd.lazy`), so graphviz and
matplotlib are imported only when a drawing or a plot is made.
"""

from ..lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(["Drawing", "GraphTooLargeError", "draw_dot"], "micrograd.visual.graph"),
    **dict.fromkeys(["Box", "Collapsed", "collapse_graph", "COLLAPSE_MODES"], "micrograd.visual.collapse"),
    **dict.fromkeys(["DotNotFoundError", "find_dot", "configure_graphviz"], "micrograd.visual.dot_program"),
    "watch_for_graphviz": "micrograd.visual.graphviz_hook",
    **dict.fromkeys(["frames", "save_frames", "step_frames", "step_through"], "micrograd.visual.step_pictures"),
    **dict.fromkeys(["save_html", "stepper_html"], "micrograd.visual.html_stepper"),
    **dict.fromkeys(
        ["predict_classes", "plot_decision_boundary", "plot_history", "plot_grad_norms", "plot_confusion_matrix",
         "confusion_matrix", "plot_images"],
        "micrograd.visual.plot",
    ),
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
del lazy_exports
