"""The demo: synthetic scenes with ground truth, and the end-to-end job `samscape demo`."""

from .scene import CLASSES, Scene, SceneObject, generate_scene

__all__ = ["CLASSES", "Scene", "SceneObject", "generate_scene"]
