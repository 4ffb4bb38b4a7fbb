"""Import the package under test before pytest names test modules after this directory."""

import operators  # noqa: F401
