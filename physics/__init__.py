"""Physics on top of tensorkit and operators: PDE data, electrostatics, wave-simulator surrogates."""
