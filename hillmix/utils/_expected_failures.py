"""scikit-learn checks that estimators of a kind fail by design, in one place.

Estimators state their expected failures in ``_expected_failed_checks``,
each with its reason; the checks that fail for the same reason across
estimators of one kind are listed once here.
"""

__all__ = ["LOG_CHECKS", "NO_DATA_CHECKS"]

#: Checks that feed ``fit`` bad or odd X: they cannot apply to an estimator
#: whose fit takes no data (the simulators, whose data come from their seed).
NO_DATA_CHECKS = (
    "check_n_features_in_after_fitting",
    "check_complex_data",
    "check_dtype_object",
    "check_estimators_empty_data_messages",
    "check_estimators_nan_inf",
    "check_estimator_sparse_tag",
    "check_n_features_in",
    "check_fit1d",
)

#: Checks that fit on (X, y) arrays: an estimator whose fit takes a log of
#: decisions (user features, the action each got and its reward) and an
#: action bank cannot learn from them.
LOG_CHECKS = (
    "check_complex_data",
    "check_dict_unchanged",
    "check_dont_overwrite_parameters",
    "check_dtype_object",
    "check_estimators_dtypes",
    "check_estimators_empty_data_messages",
    "check_estimators_fit_returns_self",
    "check_estimators_nan_inf",
    "check_estimators_overwrite_params",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_fit1d",
    "check_fit2d_1feature",
    "check_fit2d_1sample",
    "check_fit2d_predict1d",
    "check_fit_check_is_fitted",
    "check_fit_idempotent",
    "check_fit_score_takes_y",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_n_features_in",
    "check_n_features_in_after_fitting",
    "check_pipeline_consistency",
    "check_positive_only_tag_during_fit",
    "check_readonly_memmap_input",
    "check_estimator_sparse_array",
    "check_estimator_sparse_matrix",
    "check_estimator_sparse_tag",
)
