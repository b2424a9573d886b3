import CZlib
import Foundation

/// Decompresses a gzip file of one or more members (as written by `gzip`, `pigz` or per-record WARC
/// writers) with zlib.
///
/// After a corrupt member the source skips to the next gzip header; NUL padding after the last
/// member is ignored, other trailing bytes are reported. Asked to (`tracksMembers`), it remembers where
/// recent members start, so a reader can name a damaged record's member and decode it again (WARC files
/// hold one member per record).
final class GzipSource: ByteSource {
    private static let memberMagic: [UInt8] = [0x1F, 0x8B, 0x08]
    let file: FileBlockReader
    private var stream = z_stream()
    private var memberOpen = false
    private var atMemberStart = true
    private var quietUntilOutput = false
    /// Decompressed bytes returned so far.
    private var output = 0
    /// Where the member being decoded began.
    private var member = SourcePosition(output: 0, file: 0)
    private let tracksMembers: Bool
    /// Starts of the members not forgotten yet, oldest first (only when `tracksMembers`).
    private var memberStarts: [SourcePosition] = []
    private(set) var damagedStart: SourcePosition?

    init(path: String, tracksMembers: Bool = false) throws(SourceError) {
        self.tracksMembers = tracksMembers
        file = try FileBlockReader(path: path, blockSize: 1 << 20)
        // 15 + 16: a 32 KiB window, gzip wrapper only.
        let r = czlib_inflate_init2(&stream, 15 + 16)
        guard r == Z_OK else { throw .io(path: path, message: "inflateInit2 failed (\(r))") }
    }

    deinit { inflateEnd(&stream) }

    var fileOffset: Int { file.offset }

    func restartPoint(forOutput offset: Int) -> SourcePosition? {
        guard let i = lastMemberStart(atOrBefore: offset) else { return nil }
        return memberStarts[i]
    }

    func restart(at point: SourcePosition) throws(SourceError) {
        try file.seek(to: point.file)
        inflateReset(&stream)
        memberOpen = false
        atMemberStart = true
        quietUntilOutput = false
        damagedStart = nil
        output = point.output
        // Members from the point on are met again.
        while let last = memberStarts.last, last.file >= point.file { memberStarts.removeLast() }
    }

    func forgetRestartPoints(before offset: Int) {
        if let i = lastMemberStart(atOrBefore: offset), i > 0 { memberStarts.removeFirst(i) }
    }

    /// The index of the last remembered member that starts at or before decompressed byte `offset`.
    private func lastMemberStart(atOrBefore offset: Int) -> Int? {
        var low = 0
        var high = memberStarts.count
        while low < high {
            let mid = (low + high) / 2
            if memberStarts[mid].output <= offset { low = mid + 1 } else { high = mid }
        }
        return low > 0 ? low - 1 : nil
    }

    func read(into out: UnsafeMutableRawBufferPointer) throws(SourceError) -> Int {
        guard let dst = out.baseAddress, out.count > 0 else { return 0 }
        while true {
            if atMemberStart {
                if file.available < 3 { try file.refill() }
                if file.available == 0 { return 0 }
                let head = UnsafeRawBufferPointer(start: file.base + file.start, count: min(3, file.available))
                if !head.elementsEqual(Self.memberMagic.prefix(head.count)) || head.count < 3 {
                    if try onlyNulsRemain() { return 0 }
                    let at = file.offset
                    let wasQuiet = quietUntilOutput
                    quietUntilOutput = true
                    let found = try file.skip(toNext: Self.memberMagic)
                    if !wasQuiet {
                        damagedStart = SourcePosition(output: output, file: at)
                        throw .corrupt(format: "gzip", fileOffset: at, message: "not a gzip member header")
                    }
                    if !found { return 0 }
                    continue
                }
                atMemberStart = false
                member = SourcePosition(output: output, file: file.offset)
                if tracksMembers { memberStarts.append(member) }
            }
            if file.available == 0 { try file.refill() }
            let offsetBefore = file.offset
            let availableIn = file.available
            stream.next_in = (file.base + file.start).assumingMemoryBound(to: Bytef.self)
            stream.avail_in = uInt(availableIn)
            stream.next_out = dst.assumingMemoryBound(to: Bytef.self)
            stream.avail_out = uInt(out.count)
            let r = inflate(&stream, Z_NO_FLUSH)
            let consumed = availableIn - Int(stream.avail_in)
            let produced = out.count - Int(stream.avail_out)
            file.start += consumed
            switch r {
            case Z_STREAM_END:
                inflateReset(&stream)
                memberOpen = false
                atMemberStart = true
            case Z_OK:
                memberOpen = true
            case Z_BUF_ERROR:
                // No progress possible: out of input.
                if availableIn == 0 || file.isAtEOF && file.available == 0 {
                    if produced > 0 {
                        output += produced
                        return produced
                    }
                    inflateReset(&stream)
                    memberOpen = false
                    atMemberStart = true
                    file.start = file.end
                    if !quietUntilOutput {
                        damagedStart = member
                        throw .truncated(format: "gzip", fileOffset: file.offset)
                    }
                    return 0
                }
            default:
                let message = stream.msg.map { String(cString: $0) } ?? "inflate error \(r)"
                inflateReset(&stream)
                memberOpen = false
                let wasQuiet = quietUntilOutput
                quietUntilOutput = true
                let found = try file.skip(toNext: Self.memberMagic)
                atMemberStart = true
                if !wasQuiet {
                    damagedStart = member
                    throw .corrupt(format: "gzip", fileOffset: offsetBefore + consumed, message: message)
                }
                if !found { return 0 }
                continue
            }
            if produced > 0 {
                quietUntilOutput = false
                output += produced
                return produced
            }
            if file.available == 0, file.isAtEOF, memberOpen {
                // The file ended inside a member.
                inflateReset(&stream)
                memberOpen = false
                atMemberStart = true
                if !quietUntilOutput {
                    damagedStart = member
                    throw .truncated(format: "gzip", fileOffset: file.offset)
                }
                return 0
            }
        }
    }

    /// Whether everything left in the file is NUL padding (consumed if so).
    private func onlyNulsRemain() throws(SourceError) -> Bool {
        while true {
            let window = UnsafeRawBufferPointer(start: file.base + file.start, count: file.available)
            if window.contains(where: { $0 != 0 }) { return false }
            file.start = file.end
            if !(try file.refill()) { return true }
        }
    }
}
