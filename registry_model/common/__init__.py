"""Interface methods on the tables every wing shares, written once for every implementation.

Each module is a mixin of one concept (repositories and namespaces, blobs and uploads,
garbage collection); an implementation such as PreOCIModel mixes them in beside its wing's.
"""
