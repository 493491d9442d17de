"""Tile storage, the tiled Cholesky driver, and tiled triangular solves."""

from .cholesky import TileOp, cholesky_flops, cholesky_graph, tiled_cholesky
from .out_of_core import OutOfCoreStorage
from .storage import DenseStorage, PackedStorage, TileStorage, default_tile_size
from .triangular import cholesky_solve, solve_lower

__all__ = [
    "DenseStorage",
    "OutOfCoreStorage",
    "PackedStorage",
    "TileOp",
    "TileStorage",
    "cholesky_flops",
    "cholesky_graph",
    "cholesky_solve",
    "default_tile_size",
    "solve_lower",
    "tiled_cholesky",
]
