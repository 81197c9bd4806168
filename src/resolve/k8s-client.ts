/**
 * The parts of @kubernetes/client-node this tool uses, and nothing else: bundled on their own (scripts/bundle.mjs),
 * tree-shaking keeps this file at less than half of the whole library, which a pod attach loads and compiles.
 */
export {
  CoreV1Api, createConfiguration, CustomObjectsApi, Exec, KubeConfig, PatchStrategy, ServerConfiguration, setHeaderOptions, Watch,
} from '@kubernetes/client-node';
