"""Hand-written PyTorch reference implementations of the attngen modules.

One module family per file. These are the ground truth that generated code
(``generated/*.py``) is compared against in the equivalence tests; keep their
constructor signatures, sub-module names (state_dict keys) and forward math
stable.
"""
