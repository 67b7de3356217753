"""A raw-socket network lab on virtual Mininet topologies.

`python -m lab` is the entry point (lab/cli.py). A run (lab/runner.py) builds a lab's
topology (lab/topology.py) in a private network namespace (lab/netns.py), captures
every frame (lab/capture.py), runs the lab's scenario (lab/labs/) with the student's
exercise (lab/exercise.py), whose code runs unprivileged in a sandbox
(lab/sandbox.py), reads the kernels over netlink (lab/kernel.py), and grades from
the wire (lab/wire.py).
"""
