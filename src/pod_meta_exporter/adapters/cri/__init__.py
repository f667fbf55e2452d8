"""The node's container runtime over CRI (runtime.v1): the exporter's optional second source.

Imported only with --cri-endpoint: grpcio and protobuf cost the default process nothing.
"""

# The vendored api.proto is this version's pkg/apis/runtime/v1/api.proto, byte for byte; the
# integration tier compares it with the Go module, scripts/generate-cri-stubs.sh makes api_pb2.
CRI_API_VERSION = "v0.36.3"
CRI_API_PROTO_SHA256 = "6d130c2651d335bfc755d25efc63072a1cd1eba3591ead6422dc0a27f20167f3"
