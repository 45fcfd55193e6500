"""A local Apache Pulsar to test against, and the way to reach a Kubernetes one.

`standalone` runs Pulsar standalone (broker, BookKeeper and a RocksDB metadata store in one JVM)
on Java 17+ from the jars of an official release fetched once from Maven Central by `maven` (with
the project's `pom.xml`, or the release's binary distribution when the dependency tree cannot be
resolved), so tests, the demo and users without a cluster need nothing but Java and Maven.
`perf` runs the reference load generator, pulsar-perf, from the same jars for side-by-side
comparisons, and `k8s` builds the `kubectl port-forward` that exposes a Minikube Pulsar on the
same local ports. Nothing here imports the layers above; it uses only the standard library.
"""
