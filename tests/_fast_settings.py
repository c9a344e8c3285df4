"""Short NUTS settings shared by the tests that need a real (if rough) fit."""

FAST = {
    "num_warmup": 150,
    "num_samples": 150,
    "num_chains": 2,
    "max_tree_depth": 6,
    # The contract tests need a fit, not the mixture default's small steps.
    "target_accept": 0.95,
    "random_state": 0,
}
