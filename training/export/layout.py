"""File names and format version of a model bundle directory."""

# Incremented on every change that an older loader would misread, because the loader rejects newer versions.
BUNDLE_FORMAT_VERSION = 1

MANIFEST_NAME = "manifest.json"
ENCODER_NAME = "encoder.onnx"
PRIOR_NAME = "prior.onnx"
DECODER_NAME = "decoder.safetensors"
UNCONDITIONAL_PRIOR_NAME = "unconditional_prior.npz"
CODES_NAME = "codes.npy"  # float32 (N, D), from encoder.onnx
INDEX_NAME = "index.faiss"  # faiss IndexFlatL2 over codes.npy, row i = image i
IDS_NAME = "ids.npy"  # int64 (N,), strictly increasing
SOURCE_INDICES_NAME = "source_indices.npy"  # int64 (N,), each image's index in its data set
MODEL_INPUTS_NAME = "model_inputs.npy"  # uint8 (N, C, H, W), levels as the encoder saw them
DISPLAY_IMAGES_NAME = "display_images.npy"  # uint8 (N, C, H, W), grey levels 0..255 before binarization
LABELS_NAME = "labels.npy"  # int64 (N,), present only when the images have labels

REQUIRED_FILES = (
    ENCODER_NAME,
    PRIOR_NAME,
    DECODER_NAME,
    UNCONDITIONAL_PRIOR_NAME,
    CODES_NAME,
    INDEX_NAME,
    IDS_NAME,
    SOURCE_INDICES_NAME,
    MODEL_INPUTS_NAME,
    DISPLAY_IMAGES_NAME,
)

# Input and output names of the two ONNX graphs.
ENCODER_INPUT = "pixels"  # float32 (N, C, H, W) pixel levels: 0/1 when binarized, else 0..255
ENCODER_OUTPUT = "codes"  # float32 (N, D)
PRIOR_INPUT = "codes"  # float32 (N, D) neighbour codes
PRIOR_OUTPUTS = ("logits", "means", "scales")  # float32 (N, D, M) each
ONNX_OPSET = 17
