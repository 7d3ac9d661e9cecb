/** BPF iterators: iter/task, iter/bpf_map_elem, iter/tcp and the rest, read as bytes, lines or records. */
export {
  attachIter,
  type CgroupIterOrder,
  ITER_TARGETS,
  IterLink,
  type IterLoadOptions,
  type IterOptions,
  IterReader,
  iterTarget,
} from "./iter.js";
