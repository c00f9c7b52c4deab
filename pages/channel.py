"""What a channel looks for: three views of one channel of a conv layer, as OpenAI Microscope
lays them out. An image optimised to excite it (Olah et al., "Feature Visualization", Distill
2017), made by a worker of the queue and shown frame by frame as it grows; the test images
that excite it most and least, with the patch that did; and its map on your own photo.

Sections only: the network choice is Feature maps' own (`explorer.ui.network_choice`), the
job and its pictures are `explorer.ui.channel_view` over `explorer.training.channel_jobs`.
"""

from __future__ import annotations

import streamlit as st

from explorer.i18n import _
from explorer.serving.networks import Analysed, Network
from explorer.ui import channel_view, network_choice, preprocessing_panel, widgets


@widgets.guarded("network and weights")
def network_and_weights() -> Network:
    channel_view.remember_run()
    return network_choice.choose()


@widgets.guarded("the photo's maps")
def photo_maps(net: Network, photo) -> Analysed:
    """What the network makes of the photo: its layers, and every channel's map."""
    pre = preprocessing_panel.choose(net, photo.image)
    done = network_choice.loaded(net, photo.image, pre)
    if done is None:  # this network cannot take this input size: said why, stop
        st.stop()
    return done


@widgets.guarded("the channel")
def which_channel(done: Analysed) -> tuple[str, int] | None:
    if not any(r.kind == "conv" for r in done.capture.records):
        st.info(_("This network has no convolutional layers, so it has no channels to look "
                  "into."))
        return None
    st.subheader(_("Which channel"))
    return channel_view.choose_channel(done)


@widgets.guarded("the optimised picture")
def optimised_picture(net: Network, layer: str, channel: int) -> None:
    st.subheader(_("1 · The image it looks for"))
    channel_view.job(channel_view.request_for(net, layer, channel),
                     net.weights == network_choice.WEIGHTS[0])


@widgets.guarded("random against trained")
def random_against_trained(net: Network, layer: str, channel: int) -> None:
    if net.weights == network_choice.WEIGHTS[0]:
        st.caption(_("Pick “Training run” or “ImageNet pretrained” above to see what this "
                     "channel looks for once the network has learned."))
        return
    st.subheader(_("The same channel with random weights"))
    channel_view.compare(channel_view.request_for(net, layer, channel))


@widgets.guarded("dataset examples")
def dataset_examples(net: Network, layer: str, channel: int) -> None:
    st.subheader(_("2 · The test images that excite it"))
    channel_view.examples(channel_view.request_for(net, layer, channel))


@widgets.guarded("your photo")
def your_photo(done: Analysed, layer: str, channel: int) -> None:
    st.subheader(_("3 · Where it fires on your photo"))
    channel_view.on_your_photo(done, layer, channel)


# --- the page ---------------------------------------------------------------------------------

widgets.page_header(
    _("What a channel looks for"),
    _("Feature maps show what a layer makes of your photo. Here is the reverse question: what "
      "does one **channel** respond to? Pick a conv layer and a channel and see three views of "
      "it: an image optimised to excite it, the test images that excite it most and least, "
      "and where it fires on your photo. Compare a random network's channel with a trained "
      "one's: the difference is what training taught it."),
)
channel_view.scheduler()
photo = widgets.image_input()
network = network_and_weights()
if network is None:
    st.stop()
analysed = photo_maps(network, photo)
chosen = which_channel(analysed) if analysed is not None else None
if chosen is None:
    st.stop()
optimised_picture(network, *chosen)
random_against_trained(network, *chosen)
dataset_examples(network, *chosen)
your_photo(analysed, *chosen)
