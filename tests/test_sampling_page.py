"""The pooling & upsampling page in AppTest: every control combination renders."""

from __future__ import annotations


def test_pool_controls_never_raise(open_page):
    at = open_page("pages/sampling.py")
    assert not at.exception
    for pool, ceil, kernel, stride in (("MaxPool2d", False, 1, 6), ("MaxPool2d", True, 5, 3),
                                       ("AvgPool2d", True, 6, 1), ("AvgPool2d", False, 3, 2)):
        at.radio(key="sp_pool").set_value(pool)
        at.toggle(key="sp_ceil").set_value(ceil)
        at.slider(key="sp_k").set_value(kernel)
        at.slider(key="sp_s").set_value(stride).run()
        assert not at.exception, (pool, ceil, kernel, stride, at.exception[0].value)
        assert not at.error, at.error[0].value
        assert any("they agree" in c.value for c in at.markdown)


def test_upsampling_and_activations(open_page):
    at = open_page("pages/sampling.py")
    for scale, act in ((2, "LeakyReLU(0.1)"), (3, "Sigmoid"), (2, "Tanh")):
        at.radio(key="sp_scale").set_value(scale)
        at.radio(key="sp_act").set_value(act).run()
        assert not at.exception
    assert "[1, 16, 21, 21]" in at.table[-1].value.to_string()
