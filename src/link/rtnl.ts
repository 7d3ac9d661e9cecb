/** An rtnetlink conversation: requests from src/netlink sent over a netlink socket, answers decoded. */
import { type Message, NlmFlags, NlmsgType, parseAck, parseMessages } from "../netlink/message.js";
import { getLinkRequest, getLinksRequest, type LinkMessage, parseLink, rtmName } from "../netlink/route.js";
import { errnoHint } from "../sys/errno.js";
import { BpfError } from "../sys/error.js";
import { Fd } from "../sys/fd.js";
import { netlinkOpen, netlinkReceive, netlinkSend } from "../sys/socket.js";

let nextSeq = 1;

/**
 * One NETLINK_ROUTE socket. Each call sends one request and reads its answer before returning
 * (the kernel answers while handling the send, so nothing waits).
 */
export class Rtnetlink implements Disposable {
  readonly #fd: Fd;
  readonly #buf = Buffer.alloc(1 << 16);

  constructor() {
    this.#fd = new Fd(netlinkOpen(), "rtnetlink socket");
  }

  /** A fresh sequence number for a request. */
  seq(): number {
    nextSeq = (nextSeq + 1) >>> 0 || 1;
    return nextSeq;
  }

  /**
   * Sends `request` (made with sequence number `seq`) and collects the answers: the messages of a
   * reply or dump, until the acknowledgement, NLMSG_DONE or a single reply. An error answer
   * throws a BpfError named after the request ("RTM_NEWLINK ... failed: EEXIST: ...") with the
   * kernel's own words when it gave them.
   */
  talk(request: Buffer, seq: number, what: string): Message[] {
    const fd = this.#fd.value;
    const type = request.readUInt16LE(4);
    const dump = (request.readUInt16LE(6) & NlmFlags.DUMP) === NlmFlags.DUMP;
    netlinkSend(fd, request, what);
    const out: Message[] = [];
    for (let rounds = 0; rounds < 100_000; rounds++) {
      const n = netlinkReceive(fd, this.#buf, what);
      if (n === 0) {
        throw new BpfError(rtmName(type), 11, { hint: "the kernel did not answer the request" }, what);
      }
      for (const m of parseMessages(Buffer.from(this.#buf.subarray(0, n)))) {
        if (m.seq !== seq) continue; // a late answer to an earlier request
        if (m.type === NlmsgType.ERROR) {
          const ack = parseAck(m);
          if (ack.errno === 0) return out;
          throw new BpfError(
            rtmName(type),
            ack.errno,
            { hint: ack.message ? `the kernel says: ${ack.message}` : errnoHint(ack.errno) },
            what,
          );
        }
        if (m.type === NlmsgType.DONE) return out;
        out.push(m);
        if (!dump && (m.flags & NlmFlags.MULTI) === 0 && (request.readUInt16LE(6) & NlmFlags.ACK) === 0)
          return out;
      }
    }
    throw new BpfError(rtmName(type), 75, { hint: "the kernel's answer did not end" }, what);
  }

  /** RTM_GETLINK: what the kernel says about interface `ifindex`. */
  link(ifindex: number, what = `of interface ${ifindex}`): LinkMessage {
    const seq = this.seq();
    const [m] = this.talk(getLinkRequest(seq, ifindex), seq, what);
    if (m === undefined) throw new BpfError("RTM_GETLINK", 19, { hint: "no answer for the interface" }, what);
    return parseLink(m);
  }

  /** RTM_GETLINK dump: every interface of this network namespace, with its XDP programs (IFLA_XDP). */
  links(what = "of this namespace's interfaces"): LinkMessage[] {
    const seq = this.seq();
    return this.talk(getLinksRequest(seq), seq, what).map(parseLink);
  }

  /** Closes the socket; a second call does nothing. */
  close(): void {
    this.#fd.close();
  }

  /** The same as close(), for `using`. */
  [Symbol.dispose](): void {
    this.#fd.close();
  }
}

/** Runs `f` with a fresh rtnetlink socket, closed afterwards. */
export function withRtnetlink<T>(f: (rt: Rtnetlink) => T): T {
  const rt = new Rtnetlink();
  try {
    return f(rt);
  } finally {
    rt.close();
  }
}
