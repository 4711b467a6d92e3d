"""PNG figures of explanations: the sample, then the reference's and the candidate's weights."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..inputs.data import Dataset
from .explain import DriftResult, grid_segments


def write_figures(folder: Path, data: Dataset, result: DriftResult, segments: int = 16) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    names = []
    x = np.asarray(data.x)
    for s, ref, cand in zip(result.samples, result.reference_weights, result.candidate_weights):
        fig, axes = plt.subplots(1, 3, figsize=(9, 3), dpi=90)
        sample = x[s.index]
        if sample.ndim == 3:
            grid = grid_segments(sample.shape[0], sample.shape[1], segments)
            axes[0].imshow(sample[..., 0] if sample.shape[-1] == 1 else sample, cmap="gray")
            limit = max(np.abs(ref).max(), np.abs(cand).max(), 1e-12)
            for ax, w, title in ((axes[1], ref, "reference"), (axes[2], cand, "candidate")):
                ax.imshow(w[grid], cmap="RdBu_r", vmin=-limit, vmax=limit)
                ax.set_title(title)
        else:
            axes[0].plot(sample)
            for ax, w, title in ((axes[1], ref, "reference"), (axes[2], cand, "candidate")):
                ax.bar(range(len(w)), w)
                ax.set_title(title)
        axes[0].set_title(f"sample {s.index}, class {s.label}")
        fig.suptitle(f"top-k overlap {s.top_k_overlap:.2f}, rank correlation {s.rank_correlation:.2f}")
        for ax in axes:
            ax.set_xticks([])
            ax.set_yticks([])
        name = f"explanation_{s.index}.png"
        fig.tight_layout()
        fig.savefig(folder / name)
        plt.close(fig)
        names.append(name)
    return names
