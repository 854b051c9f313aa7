"""Read a folder of image files, labelled by sub-folder when the images sit in sub-folders."""

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from training.data.errors import DatasetError
from training.data.source import SourceImages

DEFAULT_IMAGE_SIZE = 28

# Still-image formats in common use. Pillow also opens stubs such as .h5 or .mpg that it cannot
# decode without plugins, and data files with those names must be skipped, not rejected.
COMMON_EXTENSIONS = {
    ".apng", ".avif", ".bmp", ".dib", ".gif", ".ico", ".j2k", ".jfif", ".jp2", ".jpe", ".jpeg", ".jpg",
    ".pbm", ".pcx", ".pgm", ".png", ".pnm", ".ppm", ".qoi", ".tga", ".tif", ".tiff", ".webp",
}  # fmt: skip
IMAGE_EXTENSIONS = frozenset(
    extension for extension, format_name in Image.registered_extensions().items()
    if format_name in Image.OPEN and extension in COMMON_EXTENSIONS
)  # fmt: skip


def is_image_file(path: Path) -> bool:
    """Tell whether a file has an extension of an image format that Pillow reads."""
    return path.suffix.lower() in IMAGE_EXTENSIONS


def find_image_files(root: Path) -> list[Path]:
    """List image files under root recursively in sorted order, skipping hidden files and folders."""
    paths = []
    for directory, subdirectories, names in os.walk(root):
        # Hidden entries such as macOS "._photo.jpg" resource forks carry image extensions but no image.
        subdirectories[:] = sorted(name for name in subdirectories if not name.startswith("."))
        for name in sorted(names):
            path = Path(directory, name)
            if not name.startswith(".") and is_image_file(path):
                paths.append(path)
    return paths


def load_image_folder(root: Path, image_size: int | None) -> SourceImages:
    """Load every image under root, resized to image_size x image_size (DEFAULT_IMAGE_SIZE when None).

    Images in sub-folders are labelled by the name of their immediate sub-folder of root, with
    sorted names giving label indices. The result has one channel when every image is grey
    (R == G == B everywhere after conversion to RGB), else three.
    """
    size = DEFAULT_IMAGE_SIZE if image_size is None else image_size
    paths = find_image_files(root)
    if not paths:
        raise DatasetError(
            f"{root} contains no image files ({', '.join(sorted(IMAGE_EXTENSIONS))}). "
            "Add images or pass another path."
        )

    pixels = np.stack([read_image(path, size) for path in paths])  # (N, H, W, 3)
    if np.array_equal(pixels[..., 0], pixels[..., 1]) and np.array_equal(pixels[..., 0], pixels[..., 2]):
        images = pixels[:, np.newaxis, :, :, 0].copy()
    else:
        images = np.ascontiguousarray(pixels.transpose(0, 3, 1, 2))

    labels, class_names = _folder_labels(root, paths)
    return SourceImages(
        images=images,
        labels=labels,
        class_names=class_names,
        test_mask=None,
        binarize_by_default=False,
    )


def read_image(path: Path, size: int) -> np.ndarray:
    """Decode one image as uint8 RGB (size, size, 3), upright per its EXIF orientation."""
    try:
        with Image.open(path) as image:
            image.load()
            picture = ImageOps.exif_transpose(image)
            rgb = _to_rgb(picture)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise DatasetError(
            f"{path} has an image extension but could not be decoded ({error}). "
            "Remove or replace the file."
        ) from error
    return np.asarray(rgb.resize((size, size), Image.Resampling.LANCZOS))


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB, putting transparent parts on black."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        # Pillow's own conversion clips 16-bit grey at 255, which turns most such images white.
        grey = np.clip(np.asarray(image, dtype=np.int64) // 257, 0, 255).astype(np.uint8)
        image = Image.fromarray(grey)
    has_alpha = "A" in image.getbands() or (image.mode == "P" and "transparency" in image.info)
    if not has_alpha:
        return image.convert("RGB")
    # Black, like the background of MNIST-style data, so that transparent borders add no signal.
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _folder_labels(root: Path, paths: list[Path]) -> tuple[np.ndarray | None, list[str] | None]:
    """Label each image by its immediate sub-folder of root, or return None when all images sit directly in root."""
    relative_parts = [path.relative_to(root).parts for path in paths]
    folders = [parts[0] if len(parts) > 1 else None for parts in relative_parts]
    if all(folder is None for folder in folders):
        return None, None

    loose = [path for path, folder in zip(paths, folders) if folder is None]
    if loose:
        raise DatasetError(
            f"{loose[0]} sits directly in {root} while other images sit in class sub-folders. "
            "Move it into a class sub-folder or remove it."
        )
    class_names = sorted(set(folders))
    index = {name: i for i, name in enumerate(class_names)}
    labels = np.array([index[folder] for folder in folders], dtype=np.int64)
    return labels, class_names
