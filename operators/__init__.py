"""Neural operators built on tensorkit: spectral convolutions, FNO, TFNO, MG-TFNO."""
