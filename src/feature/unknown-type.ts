/** How the kernel says it does not know a program or map type. */

/** The errnos with which the kernel says it does not know a program or map type. */
export function meansUnknownType(errnoName: string): boolean {
  // EINVAL: no such type in this kernel (or not built in). E2BIG: the attr has non-zero bytes
  // past the end of an older kernel's union bpf_attr, so that kernel predates what the type needs.
  return errnoName === "EINVAL" || errnoName === "E2BIG";
}
