"""Exported metric and label names, defined once for the exporter, rule generators and dashboards."""

from __future__ import annotations

# Labels every SLO series carries.
SERVICE_LABEL = "service"
SLO_LABEL = "slo"
WINDOW_LABEL = "window"
OUTCOME_LABEL = "outcome"
RESERVED_LABELS = frozenset({SERVICE_LABEL, SLO_LABEL, WINDOW_LABEL, OUTCOME_LABEL})

# SLO metrics (gauges unless noted).
SLO_OBJECTIVE_RATIO = "slo_objective_ratio"
SLO_SLI_RATIO = "slo_sli_ratio"
SLO_BURN_RATE = "slo_burn_rate"
SLO_ERROR_BUDGET_REMAINING_RATIO = "slo_error_budget_remaining_ratio"
SLO_ERROR_BUDGET_CONSUMED_RATIO = "slo_error_budget_consumed_ratio"
SLO_PERIOD_BUDGET_CONSUMED_RATIO = "slo_period_error_budget_consumed_ratio"
SLO_DATA_COVERAGE_RATIO = "slo_data_coverage_ratio"
SLO_PERIOD_SECONDS = "slo_period_seconds"
SLO_EVENTS = "slo_events"  # counter; exposed as slo_events_total
SLO_INFO = "slo_info"

# Self-metrics of the service.
SCRAPE_UP = "slo_service_scrape_up"
SCRAPE_DURATION_SECONDS = "slo_service_scrape_duration_seconds"
SCRAPE_SAMPLES = "slo_service_scrape_samples"
EVALUATION_DURATION_SECONDS = "slo_service_evaluation_duration_seconds"
LAST_EVALUATION_TIMESTAMP_SECONDS = "slo_service_last_evaluation_timestamp_seconds"
COLLECTION_ERRORS = "slo_service_collection_errors"  # counter
SCRAPE_DUPLICATE_SERIES = "slo_service_scrape_duplicate_series"  # counter {source}: repeats dropped
SCRAPE_INVALID_COUNTER_SAMPLES = "slo_service_scrape_invalid_counter_samples"  # counter {source, reason}
STORE_PENDING_WRITES = "slo_service_store_pending_writes"
STORE_DROPPED_INCREMENTS = "slo_service_store_dropped_increments"  # counter: beyond the pending-write limit
CONFIG_RELOADS = "slo_service_config_reloads"  # counter, label result
CONFIG_LAST_RELOAD_SUCCESS = "slo_service_config_last_reload_successful"
BUILD_INFO = "slo_service_build_info"
LEADER = "slo_service_leader"  # gauge {replica}: 1 on the replica that scrapes, evaluates and alerts
LEADER_ELECTIONS = "slo_service_leader_elections"  # counter {replica}: times this replica became the leader
CONFIG_INFO = "slo_service_config_info"  # gauge {replica, hash} = 1: which config files a replica runs

# Alerting and notification self-metrics.
ALERTS = "slo_service_alerts"  # gauge, labels state, severity
NOTIFICATIONS = "slo_service_notifications"  # counter (slo_service_notifications_total), labels receiver, outcome
NOTIFICATION_DELIVERY_SECONDS = "slo_service_notification_delivery_seconds"  # histogram, label receiver
NOTIFICATION_GROUPS = "slo_service_notification_groups"  # gauge: open groups
ACTIONS = "slo_service_actions"  # counter (slo_service_actions_total), labels action, target, outcome

# Drift monitor metrics (gauges unless noted), from the newest run of every monitor.
DRIFT_SHARE = "slo_drift_share"  # {monitor}: share of drifted features in the newest OK run
DRIFT_DETECTED = "slo_drift_detected"  # {monitor}: 1 when the dataset drifted (drift share >= the monitor's)
FEATURE_DRIFT_SCORE = "slo_feature_drift_score"  # {monitor, feature, method}; capped per monitor
DATA_MISSING_RATIO = "slo_data_missing_ratio"  # {monitor, feature}: share of missing values in the current window
MODEL_QUALITY = "slo_model_quality"  # {monitor, metric}: accuracy, f1, mae, rmse...
DRIFT_RUN_DURATION_SECONDS = "slo_drift_run_duration_seconds"  # {monitor}: duration of the newest run
DRIFT_LAST_RUN_TIMESTAMP_SECONDS = "slo_drift_last_run_timestamp_seconds"  # {monitor}: end of the newest OK run
DRIFT_RUN_FAILED = "slo_drift_run_failed"  # counter (slo_drift_run_failed_total), {monitor}
DRIFT_SEGMENT_SHARE = "slo_drift_segment_share"  # {monitor, segment}: share of drifted features in a segment
DRIFT_SEGMENT_DETECTED = "slo_drift_segment_detected"  # {monitor, segment}: 1 when the segment drifted
FEATURE_DRIFT_SEGMENT_SCORE = "slo_feature_drift_segment_score"  # {monitor, segment, feature, method}; capped
DATA_SEGMENT_MISSING_RATIO = "slo_data_segment_missing_ratio"  # {monitor, segment, feature}; capped likewise
MODEL_SEGMENT_QUALITY = "slo_model_segment_quality"  # {monitor, segment, metric}: realised, capped like features
DRIFT_ESTIMATED_ACCURACY = "slo_drift_estimated_accuracy"  # {monitor}: CBPE accuracy, before labels arrive
DRIFT_ESTIMATED_QUALITY = "slo_drift_estimated_quality"  # {monitor, metric}: CBPE precision, recall, f1, roc_auc
SEGMENT_LABEL = "segment"
# Live drift of pushed batches, merged from per-slice histograms (never re-reads rows).
DRIFT_LIVE_SHARE = "slo_drift_live_share"  # {monitor}: share of drifted features over the monitor's window
FEATURE_DRIFT_LIVE_SCORE = "slo_feature_drift_live_score"  # {monitor, feature, method}; capped per monitor
MONITOR_LABEL = "monitor"
# Deployments from CI (exporter/deployments.py).
ENVIRONMENT_LABEL = "environment"
DEPLOYMENTS = "slo_deployments"  # counter (slo_deployments_total) {service, environment}
DEPLOYMENT_INFO = "slo_deployment_info"  # gauge {service, environment, version, model_version} = 1 for the latest
LAST_DEPLOYMENT_TIMESTAMP_SECONDS = "slo_last_deployment_timestamp_seconds"  # gauge {service, environment}
FEATURE_LABEL = "feature"
