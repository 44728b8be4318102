import HTTPTypes
import Logging
import NIOCore
import NIOHTTPTypes

/// Closes a connection whose client sends a request too slowly, however it trickles.
///
/// The idle timeout only catches silence: a client that sends one byte every few seconds
/// would hold its connection (and a push body buffer) forever. Here the head must be
/// complete within `deadline` of the connection opening or of the previous response, and
/// the body within `deadline` of the head. While the server works on a request nothing is
/// timed (statement timeouts bound that). Reading happens before any database connection
/// is taken, so a slow client never holds one.
final class RequestDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let deadline: TimeAmount
    private let logger: Logger
    private var timer: Scheduled<Void>?

    init(deadline: TimeAmount, logger: Logger) {
        self.deadline = deadline
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context, waitingFor: "the request head") }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
    }

    func channelActive(context: ChannelHandlerContext) {
        if timer == nil { arm(context, waitingFor: "the request head") }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: arm(context, waitingFor: "the request body")
        case .body: break
        case .end: disarm()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { arm(context, waitingFor: "the next request head") }
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext, waitingFor what: String) {
        disarm()
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let logger = logger
        let seconds = deadline.nanoseconds / 1_000_000_000
        timer = context.eventLoop.scheduleTask(in: deadline) {
            let context = bound.value
            logger.info("closing a connection: the client took over \(seconds) s to send \(what)", metadata: [
                "client": "\(context.remoteAddress?.ipAddress ?? "?")",
            ])
            context.close(promise: nil)
        }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }
}
