namespace NativeASD.Weights.Tflite;

/// <summary>TFLite TensorType (schema.fbs).</summary>
public enum TfliteTensorType : byte
{
    Float32 = 0, Float16 = 1, Int32 = 2, UInt8 = 3, Int64 = 4, String = 5, Bool = 6, Int16 = 7, Complex64 = 8,
    Int8 = 9, Float64 = 10, Complex128 = 11, UInt64 = 12, Resource = 13, Variant = 14, UInt32 = 15, UInt16 = 16,
    Int4 = 17, BFloat16 = 18,
}

/// <summary>TFLite Padding.</summary>
public enum TflitePadding : byte { Same = 0, Valid = 1 }

/// <summary>TFLite ActivationFunctionType, fused into conv/FC/add ops.</summary>
public enum TfliteActivation : byte { None = 0, Relu = 1, ReluN1To1 = 2, Relu6 = 3, Tanh = 4, SignBit = 5 }

/// <summary>TFLite BuiltinOperator codes (schema.fbs); codes not listed print as BUILTIN_n.</summary>
public enum TfliteBuiltinOperator
{
    ADD = 0, AVERAGE_POOL_2D = 1, CONCATENATION = 2, CONV_2D = 3, DEPTHWISE_CONV_2D = 4, DEPTH_TO_SPACE = 5,
    DEQUANTIZE = 6, EMBEDDING_LOOKUP = 7, FLOOR = 8, FULLY_CONNECTED = 9, HASHTABLE_LOOKUP = 10, L2_NORMALIZATION = 11,
    L2_POOL_2D = 12, LOCAL_RESPONSE_NORMALIZATION = 13, LOGISTIC = 14, LSH_PROJECTION = 15, LSTM = 16,
    MAX_POOL_2D = 17, MUL = 18, RELU = 19, RELU_N1_TO_1 = 20, RELU6 = 21, RESHAPE = 22, RESIZE_BILINEAR = 23,
    RNN = 24, SOFTMAX = 25, SPACE_TO_DEPTH = 26, SVDF = 27, TANH = 28, CONCAT_EMBEDDINGS = 29, SKIP_GRAM = 30,
    CALL = 31, CUSTOM = 32, EMBEDDING_LOOKUP_SPARSE = 33, PAD = 34, UNIDIRECTIONAL_SEQUENCE_RNN = 35, GATHER = 36,
    BATCH_TO_SPACE_ND = 37, SPACE_TO_BATCH_ND = 38, TRANSPOSE = 39, MEAN = 40, SUB = 41, DIV = 42, SQUEEZE = 43,
    UNIDIRECTIONAL_SEQUENCE_LSTM = 44, STRIDED_SLICE = 45, BIDIRECTIONAL_SEQUENCE_RNN = 46, EXP = 47, TOPK_V2 = 48,
    SPLIT = 49, LOG_SOFTMAX = 50, DELEGATE = 51, BIDIRECTIONAL_SEQUENCE_LSTM = 52, CAST = 53, PRELU = 54,
    MAXIMUM = 55, ARG_MAX = 56, MINIMUM = 57, LESS = 58, NEG = 59, PADV2 = 60, GREATER = 61, GREATER_EQUAL = 62,
    LESS_EQUAL = 63, SELECT = 64, SLICE = 65, SIN = 66, TRANSPOSE_CONV = 67, SPARSE_TO_DENSE = 68, TILE = 69,
    EXPAND_DIMS = 70, EQUAL = 71, NOT_EQUAL = 72, LOG = 73, SUM = 74, SQRT = 75, RSQRT = 76, SHAPE = 77, POW = 78,
    ARG_MIN = 79, FAKE_QUANT = 80, REDUCE_PROD = 81, REDUCE_MAX = 82, PACK = 83, LOGICAL_OR = 84, ONE_HOT = 85,
    LOGICAL_AND = 86, LOGICAL_NOT = 87, UNPACK = 88, REDUCE_MIN = 89, FLOOR_DIV = 90, REDUCE_ANY = 91, SQUARE = 92,
    ZEROS_LIKE = 93, FILL = 94, FLOOR_MOD = 95, RANGE = 96, RESIZE_NEAREST_NEIGHBOR = 97, LEAKY_RELU = 98,
    SQUARED_DIFFERENCE = 99, MIRROR_PAD = 100, ABS = 101, SPLIT_V = 102, UNIQUE = 103, CEIL = 104, REVERSE_V2 = 105,
    ADD_N = 106, GATHER_ND = 107, COS = 108, WHERE = 109, RANK = 110, ELU = 111, REVERSE_SEQUENCE = 112,
    MATRIX_DIAG = 113, QUANTIZE = 114, MATRIX_SET_DIAG = 115, ROUND = 116, HARD_SWISH = 117, IF = 118, WHILE = 119,
    NON_MAX_SUPPRESSION_V4 = 120, NON_MAX_SUPPRESSION_V5 = 121, SCATTER_ND = 122, SELECT_V2 = 123, DENSIFY = 124,
    SEGMENT_SUM = 125, BATCH_MATMUL = 126,
}

/// <summary>Builtin options of the ops a network mapping needs; other ops carry none (<see cref="TfliteOperator.Options"/> is null).</summary>
public abstract record TfliteOptions;

/// <summary>CONV_2D: Conv2DOptions{padding, stride_w, stride_h, fused_activation_function, dilation_w/h_factor}.</summary>
public sealed record TfliteConv2DOptions(TflitePadding Padding, int StrideW, int StrideH, TfliteActivation Activation,
    int DilationW, int DilationH) : TfliteOptions;

/// <summary>DEPTHWISE_CONV_2D: DepthwiseConv2DOptions{padding, stride_w, stride_h, depth_multiplier, fused_activation_function, dilation_w/h_factor}.</summary>
public sealed record TfliteDepthwiseConv2DOptions(TflitePadding Padding, int StrideW, int StrideH, int DepthMultiplier,
    TfliteActivation Activation, int DilationW, int DilationH) : TfliteOptions;

/// <summary>FULLY_CONNECTED: FullyConnectedOptions{fused_activation_function, weights_format, keep_num_dims}.</summary>
public sealed record TfliteFullyConnectedOptions(TfliteActivation Activation, bool KeepNumDims) : TfliteOptions;

/// <summary>AVERAGE_POOL_2D / MAX_POOL_2D: Pool2DOptions.</summary>
public sealed record TflitePool2DOptions(TflitePadding Padding, int StrideW, int StrideH, int FilterWidth, int FilterHeight,
    TfliteActivation Activation) : TfliteOptions;

/// <summary>ADD, SUB, MUL, DIV, CONCATENATION (with Axis): a fused activation.</summary>
public sealed record TfliteActivationOptions(TfliteActivation Activation, int Axis = 0) : TfliteOptions;

/// <summary>MEAN, SUM, REDUCE_MAX, …: ReducerOptions{keep_dims}.</summary>
public sealed record TfliteReducerOptions(bool KeepDims) : TfliteOptions;

/// <summary>SPLIT: SplitOptions{num_splits}.</summary>
public sealed record TfliteSplitOptions(int NumSplits) : TfliteOptions;

/// <summary>RESHAPE: ReshapeOptions{new_shape} (often empty: the shape then comes from the second input).</summary>
public sealed record TfliteReshapeOptions(int[] NewShape) : TfliteOptions;

/// <summary>SOFTMAX: SoftmaxOptions{beta}.</summary>
public sealed record TfliteSoftmaxOptions(float Beta) : TfliteOptions;
