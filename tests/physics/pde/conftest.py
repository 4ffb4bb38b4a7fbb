"""Import the packages under test before pytest names test modules after this directory."""

import operators  # noqa: F401
import physics.pde  # noqa: F401
