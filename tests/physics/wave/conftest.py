"""Import the package under test before pytest names test modules after this directory."""

import physics.wave  # noqa: F401
