"""Small graphs and SVG helpers shared by the drawing and stepping tests."""

import xml.etree.ElementTree as ET

from micrograd import Value

SVG = "{http://www.w3.org/2000/svg}"


def lecture_graph():
    """The lecture's first expression, L = (a * b + c) * f, with a=2, b=-3, c=10, f=-2
    (a * b left unlabelled, as in the lecture's drawing)."""
    a, b, c, f = Value(2.0, label="a"), Value(-3.0, label="b"), Value(10.0, label="c"), Value(-2.0, label="f")
    d = a * b + c
    d.label = "d"
    L = d * f
    L.label = "L"
    return L


def svg_nodes(svg_text):
    """The titles (DOT node ids) of the nodes in an SVG written by dot."""
    root = ET.fromstring(svg_text)
    return [g.find(SVG + "title").text for g in root.iter(SVG + "g") if g.get("class") == "node"]
