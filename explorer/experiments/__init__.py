"""The course's claims as experiments a student can run, and verdicts from what was measured.

`designs` says what each experiment trains (its arms) and what it holds equal; `pairing`
queues an experiment's arms as one submission with one shared start (identical initial
weights wherever the architectures match, the same images in the same order) and reads
them back from the runs folder; `verdicts` turns the recorded metrics into one honest
sentence; `kernel_cost` computes the 3×3-stack against 7×7 comparison, which needs no
training. No streamlit here: `pages/experiments.py` draws it.
"""
