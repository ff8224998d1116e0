"""micrograd.visual.plot: what each function computes and what it draws, read back from the axes."""

from __future__ import annotations

import re
import warnings

import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")  # no display needed; must come before pyplot is imported

import matplotlib.pyplot as plt  # noqa: E402

from micrograd.engine import Value, is_grad_enabled  # noqa: E402
from micrograd.nn import BatchNorm1d, Layer, Neuron, Sequential  # noqa: E402
from micrograd.visual.plot import (  # noqa: E402
    confusion_matrix,
    plot_confusion_matrix,
    plot_decision_boundary,
    plot_grad_norms,
    plot_history,
    plot_images,
    predict_classes,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def linear_neuron(w, b=0.0):
    """One linear neuron with the given weights: score = b + w . x."""
    n = Neuron(len(w), nonlin=False)
    n.w = [Value(float(wi)) for wi in w]
    n.b = Value(float(b))
    return n


def three_class_layer():
    """Scores (x0, x1, -x0 - x1): class 0 where x0 leads, 1 where x1 does, 2 when both are negative."""
    layer = Layer(2, 3, nonlin=False)
    for neuron, w in zip(layer.neurons, ([1.0, 0.0], [0.0, 1.0], [-1.0, -1.0])):
        neuron.w = [Value(wi) for wi in w]
        neuron.b = Value(0.0)
    return layer


# --- predict_classes ----------------------------------------------------------------------

def test_predict_classes_one_output_is_class_1_only_for_a_positive_score():
    model = linear_neuron([1.0, 0.0])
    assert predict_classes(model, [[2.0, 0.0], [-2.0, 0.0], [0.0, 5.0], [1e-9, -3.0]]) == [1, 0, 0, 1]


def test_predict_classes_k_outputs_pick_the_largest():
    assert predict_classes(three_class_layer(), [[2.0, 1.0], [0.0, 3.0], [-1.0, -1.0]]) == [0, 1, 2]


def test_predict_classes_uses_eval_mode_and_puts_a_training_model_back():
    bn = BatchNorm1d(2)
    model = Sequential(bn, linear_neuron([1.0, 0.0]))
    model.train()
    # In training mode BatchNorm1d refuses single samples: this only works in eval mode.
    assert predict_classes(model, [[3.0, 0.0], [-3.0, 0.0]]) == [1, 0]
    assert model.training and bn.training


def test_predict_classes_leaves_an_eval_model_in_eval_mode():
    bn = BatchNorm1d(2)
    model = Sequential(bn, linear_neuron([1.0, 0.0]))
    model.eval()
    predict_classes(model, [[1.0, 0.0]])
    assert not model.training and not bn.training


def test_predict_classes_records_no_graph():
    seen = []

    def model(x):
        seen.append(is_grad_enabled())
        return Value(x[0])

    assert predict_classes(model, [[1.0], [-1.0]]) == [1, 0]
    assert seen == [False, False]
    assert is_grad_enabled()


# --- confusion_matrix ---------------------------------------------------------------------

def test_confusion_matrix_counts_true_rows_against_predicted_columns():
    labels = [0, 0, 1, 2, 2, 2]
    predictions = [0, 1, 1, 2, 0, 2]
    assert confusion_matrix(labels, predictions) == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]


def test_confusion_matrix_counts_numpy_labels():
    np = pytest.importorskip("numpy")
    assert confusion_matrix(np.array([0, 1, 1]), np.array([1, 1, 0])) == [[0, 1], [1, 1]]


def test_confusion_matrix_n_classes_adds_classes_never_seen():
    assert confusion_matrix([0, 1], [1, 1], n_classes=3) == [[0, 1, 0], [0, 1, 0], [0, 0, 0]]
    assert confusion_matrix([], [], n_classes=2) == [[0, 0], [0, 0]]


@pytest.mark.parametrize(
    "labels, predictions, n_classes, message",
    [
        ([0, 1], [0], None, "got 1 and 2"),
        ([-1, 1], [0, 1], None, "label 0 must be a class index in 0..1, got -1"),  # ±1 labels: not indices
        ([0, 1], [0, 3], 2, "prediction 1 must be a class index in 0..1, got 3"),
        ([0, 1.0], [0, 1], None, "label 1 must be a class index in 0..1, got 1.0"),
        ([], [], None, "needs n_classes when there are no labels"),
        ([0], [0], 0, "n_classes must be an int >= 1, got 0"),
    ],
)
def test_confusion_matrix_rejects_what_it_cannot_count(labels, predictions, n_classes, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        confusion_matrix(labels, predictions, n_classes)


# --- plot_decision_boundary ---------------------------------------------------------------

CORNERS = [[-1.0, -1.0], [1.0, 1.0], [-1.0, 1.0], [1.0, -1.0]]


def colours_by_class(ax):
    """{class: RGB} of the filled regions and of the scatter points, after drawing."""
    ax.figure.canvas.draw()
    fill, points = ax.collections[0], ax.collections[1]
    regions = {i: tuple(rgba[:3]) for i, rgba in enumerate(fill.get_facecolor())}
    dots = {int(c): tuple(rgba[:3]) for c, rgba in zip(points.get_array(), points.get_facecolor())}
    return regions, dots


def test_decision_boundary_colours_the_side_of_each_class_and_draws_the_points():
    model = linear_neuron([1.0, 0.0])  # class 1 right of x0 = 0
    ax = plot_decision_boundary(model, CORNERS, [-1, 1, -1, 1], resolution=11, title="a line")
    fill, points = ax.collections[0], ax.collections[1]
    assert list(fill.levels) == [-0.5, 0.5, 1.5]  # one band per class
    class0, class1 = fill.get_paths()
    assert class0.contains_point((-1.0, 0.3)) and not class0.contains_point((1.0, 0.3))
    assert class1.contains_point((1.0, 0.3)) and not class1.contains_point((-1.0, 0.3))
    assert points.get_offsets().tolist() == CORNERS
    assert points.get_array().tolist() == [0, 1, 0, 1]  # -1/+1 labels as classes 0/1
    assert ax.get_xlim() == (-1.5, 1.5) and ax.get_ylim() == (-1.5, 1.5)  # the default margin
    assert ax.get_title() == "a line"


def test_decision_boundary_gives_a_point_the_colour_of_its_class_region():
    ax = plot_decision_boundary(linear_neuron([1.0, 0.0]), CORNERS, [-1, 1, -1, 1], resolution=5)
    regions, dots = colours_by_class(ax)
    assert dots == regions and regions[0] != regions[1]


def test_decision_boundary_three_classes_share_one_colour_scale():
    X = [[2.0, 0.5], [0.5, 2.0], [-2.0, -1.0]]
    ax = plot_decision_boundary(three_class_layer(), X, [0, 1, 2], resolution=21)
    assert list(ax.collections[0].levels) == [-0.5, 0.5, 1.5, 2.5]
    regions, dots = colours_by_class(ax)
    assert dots == regions and len(set(regions.values())) == 3


def test_decision_boundary_keeps_class_colours_when_a_class_is_never_predicted():
    # The model only ever says 0 or 1; class 2's points keep class 2's colour, not class 1's.
    X = [[2.0, 0.0], [-2.0, 0.0], [0.0, 1.0]]
    ax = plot_decision_boundary(linear_neuron([1.0, 0.0]), X, [1, 0, 2], resolution=5)
    fill, points = ax.collections[0], ax.collections[1]
    assert list(fill.levels) == [-0.5, 0.5, 1.5, 2.5]
    assert (points.norm.vmin, points.norm.vmax) == (fill.norm.vmin, fill.norm.vmax) == (0.0, 2.0)


def test_decision_boundary_draws_held_out_points_as_triangles_with_a_legend():
    held_X = [[0.5, 0.5], [3.0, -0.5]]
    ax = plot_decision_boundary(linear_neuron([1.0, 0.0]), CORNERS, [-1, 1, -1, 1], resolution=5,
                                held_out=(held_X, [1, 1]))
    held = ax.collections[2]
    assert held.get_offsets().tolist() == held_X
    assert held.get_array().tolist() == [1, 1]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["training", "held out"]
    assert ax.get_xlim() == (-1.5, 3.5)  # the view takes in the held-out points too


def test_decision_boundary_takes_numpy_arrays():
    np = pytest.importorskip("numpy")
    ax = plot_decision_boundary(linear_neuron([1.0, 0.0]), np.array(CORNERS), np.array([-1, 1, -1, 1]), resolution=5)
    assert ax.collections[1].get_array().tolist() == [0, 1, 0, 1]


def test_decision_boundary_draws_on_the_axes_it_is_given():
    fig, (left, right) = plt.subplots(1, 2)
    assert plot_decision_boundary(linear_neuron([1.0, 0.0]), CORNERS, [0, 1, 0, 1], ax=right, resolution=3) is right
    assert not left.collections and len(right.collections) == 2


@pytest.mark.parametrize(
    "X, y, kwargs, message",
    [
        ([[1.0, 2.0, 3.0]], [1], {}, r"2-D points \(rows of 2 numbers\), got \[1.0, 2.0, 3.0\]"),
        (CORNERS, [1, -1, 1, -1], {"resolution": 1}, "resolution must be an int >= 2, got 1"),
        (CORNERS, [0, 1, 0], {}, "one label per point, got 4 points and 3 labels"),
        (CORNERS, [0, 1, 0.5, 1], {}, "labels -1/.1 or 0..k-1, got 0.5"),
        ([], [], {}, "at least one point"),
    ],
)
def test_decision_boundary_errors_name_the_bad_value(X, y, kwargs, message):
    with pytest.raises(ValueError, match=message):
        plot_decision_boundary(linear_neuron([1.0, 0.0]), X, y, **kwargs)


# --- plot_history -------------------------------------------------------------------------

HISTORY = {
    "loss": [1.0, 0.5, 0.25],
    "accuracy": [0.5, 0.75, 1.0],
    "val_loss": [1.2, 0.7, 0.4],
    "val_accuracy": [0.4, 0.6, 0.9],
}


def test_history_draws_loss_on_a_log_scale_and_accuracy_with_held_out_dashed():
    loss_ax, acc_ax = plot_history(HISTORY)
    train, held = loss_ax.get_lines()
    assert list(train.get_xdata()) == [1, 2, 3] and list(train.get_ydata()) == HISTORY["loss"]
    assert list(held.get_ydata()) == HISTORY["val_loss"] and held.get_linestyle() == "--"
    assert loss_ax.get_yscale() == "log" and loss_ax.get_ylabel() == "loss"
    train_acc, held_acc = acc_ax.get_lines()
    assert list(train_acc.get_ydata()) == HISTORY["accuracy"] and list(held_acc.get_ydata()) == HISTORY["val_accuracy"]
    assert acc_ax.get_ylim() == (0.0, 1.05)
    assert train.get_color() == held.get_color() == train_acc.get_color()
    for ax in (loss_ax, acc_ax):
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "held out"]


def test_history_called_again_with_a_label_adds_a_run_to_compare():
    axes = plot_history({"loss": [1.0, 0.5]}, label="sgd")
    plot_history(HISTORY, axes=axes, label="adam")
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == ["sgd", "adam", "adam (held out)"]
    assert axes[0].get_lines()[0].get_color() != axes[0].get_lines()[1].get_color()


def test_history_without_accuracy_draws_no_empty_legend_and_warns_nothing():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns on a legend with nothing in it
        loss_ax, acc_ax = plot_history({"loss": [3.0, 2.0, 1.0]})
    assert len(loss_ax.get_lines()) == 1 and not acc_ax.get_lines()
    assert acc_ax.get_legend() is None


def test_history_without_loss_names_the_keys_it_got():
    with pytest.raises(ValueError, match=r"a 'loss' list, got keys \['accuracy'\]"):
        plot_history({"accuracy": [1.0]})


# --- plot_grad_norms ----------------------------------------------------------------------

def test_grad_norms_by_depth_on_a_log_scale_with_a_dead_layer_at_the_floor():
    ax = plot_grad_norms({"layers.0": 1e-3, "layers.1": 0.0, "layers.2": 1.0}, label="relu")
    (line,) = ax.get_lines()
    assert list(line.get_xdata()) == [1, 2, 3]
    assert list(line.get_ydata()) == pytest.approx([1e-3, 1e-4, 1.0])  # 0 drawn a decade below the least norm
    assert ax.get_yscale() == "log" and list(ax.get_xticks()) == [1, 2, 3]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["relu"]


def test_grad_norms_needs_a_layer():
    with pytest.raises(ValueError, match="at least one layer's norm, got none"):
        plot_grad_norms({})


# --- plot_confusion_matrix ----------------------------------------------------------------

def test_confusion_matrix_plot_shows_the_counts_and_the_class_names():
    labels, predictions = [0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2]
    ax = plot_confusion_matrix(labels, predictions, class_names=["cat", "dog", "emu"])
    (image,) = ax.get_images()
    assert image.get_array().tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    cells = {(t.get_position(), t.get_text()) for t in ax.texts}
    assert cells == {((0, 0), "1"), ((1, 0), "1"), ((1, 1), "1"), ((0, 2), "1"), ((2, 2), "2")}  # (column, row)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog", "emu"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cat", "dog", "emu"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted", "true")


def test_confusion_matrix_plot_names_a_label_beyond_the_class_names():
    with pytest.raises(ValueError, match="label 1 must be a class index in 0..1, got 2"):
        plot_confusion_matrix([0, 2], [0, 1], class_names=["a", "b"])


# --- plot_images --------------------------------------------------------------------------

def test_images_in_a_grid_with_titles_and_spare_cells_blank():
    images = [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0], [8.0, 9.0, 10.0, 11.0]]
    fig = plot_images(images, (2, 2), titles=["a", "b", "c"], columns=2)
    axes = fig.get_axes()
    assert len(axes) == 4
    for ax, image, title in zip(axes, images, "abc"):
        (drawn,) = ax.get_images()
        assert drawn.get_array().tolist() == [image[:2], image[2:]]
        assert ax.get_title() == title
    assert not axes[3].get_images() and not axes[3].axison


@pytest.mark.parametrize(
    "images, kwargs, message",
    [
        ([], {}, "at least one image, got none"),
        ([[0.0] * 4, [0.0] * 3], {}, r"image 1 has 3 pixels, but shape \(2, 2\) needs 4"),
        ([[0.0] * 4], {"columns": 0}, "columns must be an int >= 1, got 0"),
        ([[0.0] * 4], {"titles": ["a", "b"]}, "one title per image, got 2 titles for 1 images"),
    ],
)
def test_images_errors_name_the_bad_value(images, kwargs, message):
    with pytest.raises(ValueError, match=message):
        plot_images(images, (2, 2), **kwargs)
