#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Sends a descriptor as `SCM_RIGHTS` in an otherwise empty datagram (unix(7)). The control message is laid out by
/// hand because `CMSG_*` are C macros Swift cannot call:
///
///     +-------------------+-----------+-----------+------+---------+
///     | cmsg_len (size_t) | cmsg_level| cmsg_type | fd   | padding |
///     +-------------------+-----------+-----------+------+---------+
///     <--- CMSG_ALIGN(sizeof(cmsghdr)) ---------->
///     <--- CMSG_LEN(sizeof(int)) ------------------------>
///     <--- CMSG_SPACE(sizeof(int)) --------------------------------->
enum FileDescriptorPassing {
    /// True when sent, false when nothing listens at `address` (ENOENT); throws for any other failure.
    static func send(_ passed: CInt, over fd: CInt, to address: UnixSocketAddress) throws(SystemdSocketError) -> Bool {
        let dataOffset = self.align(MemoryLayout<cmsghdr>.size)
        let space = dataOffset + self.align(MemoryLayout<CInt>.size)
        let control = UnsafeMutableRawBufferPointer.allocate(
            byteCount: space,
            alignment: MemoryLayout<cmsghdr>.alignment
        )
        defer { control.deallocate() }
        control.initializeMemory(as: UInt8.self, repeating: 0)
        var header = cmsghdr()
        header.cmsg_len = Int(dataOffset + MemoryLayout<CInt>.size)
        header.cmsg_level = SOL_SOCKET
        header.cmsg_type = CInt(SCM_RIGHTS)
        control.storeBytes(of: header, as: cmsghdr.self)
        control.storeBytes(of: passed, toByteOffset: dataOffset, as: CInt.self)
        let sent = address.withSockaddr { name, length in
            var message = msghdr()
            message.msg_name = UnsafeMutableRawPointer(mutating: name)
            message.msg_namelen = length
            message.msg_control = control.baseAddress
            message.msg_controllen = space
            return sendmsg(fd, &message, CInt(MSG_NOSIGNAL))
        }
        guard sent < 0 else { return true }
        let code = errno
        if code == ENOENT { return false }
        throw .systemCall("sendmsg(\(address.text), SCM_RIGHTS)", errno: code)
    }

    /// CMSG_ALIGN: to a multiple of `size_t`.
    static func align(_ length: Int) -> Int {
        let unit = MemoryLayout<Int>.size
        return (length + unit - 1) / unit * unit
    }
}
