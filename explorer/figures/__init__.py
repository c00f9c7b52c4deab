"""Figure builders: Plotly figures and images drawn from numbers the lesson modules compute.

Drawing lives here, math in the lesson modules; a figure builder takes plain values or tensors
and returns a `go.Figure` or an image, and never computes a lesson's result itself.
"""
