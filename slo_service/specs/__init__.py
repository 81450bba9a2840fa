"""The YAML configuration format (apiVersion slo-service/v1), read into the core model.

Use `load_config(paths)` to get a `Config` or a `ConfigError` listing every `Problem` as
``file:line: field: message``; `validate_files(paths)` returns the problems instead of raising.
"""

from slo_service.specs.loader import ConfigError, Problem, expand_paths, load_config, validate_files
from slo_service.specs.schema import API_VERSION, SUPPORTED_API_VERSIONS

__all__ = [
    "API_VERSION",
    "SUPPORTED_API_VERSIONS",
    "ConfigError",
    "Problem",
    "expand_paths",
    "load_config",
    "validate_files",
]
