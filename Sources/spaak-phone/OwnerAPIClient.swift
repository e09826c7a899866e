import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import PhoneSimulator

/// The app's HTTP client of the owner services: `URLSession` (libcurl on Linux), one request
/// at a time, waited for (the command is synchronous). Bearer token on every request; no
/// cookies, no cache, no proxy, redirects not followed (the token goes to the address given
/// and nowhere else). An idempotent call whose answer is lost (no HTTP answer at all) is sent
/// again, as the OpenAPI document allows; an HTTP answer, good or bad, is never repeated.
final class OwnerAPIClient {
    /// An HTTP answer.
    struct Reply: Sendable {
        var status: Int
        var contentType: String?
        var body: [UInt8]
    }

    let address: OwnerAPIAddress
    private let token: String
    private let session: URLSession
    private let attempts: Int
    private let pause: TimeInterval

    /// A client of `address` with the bearer `token`; `timeout` per request.
    init(address: OwnerAPIAddress, token: String, timeout: TimeInterval = 30, attempts: Int = 3, pause: TimeInterval = 1) {
        self.address = address
        self.token = token
        self.attempts = max(1, attempts)
        self.pause = pause
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        configuration.httpCookieAcceptPolicy = .never
        configuration.httpShouldSetCookies = false
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        configuration.connectionProxyDictionary = [:]
        session = URLSession(configuration: configuration, delegate: NoRedirects(), delegateQueue: nil)
    }

    deinit { session.invalidateAndCancel() }

    /// Sends `call` and decodes its 2xx answer as `T`; `say` prints progress (retries).
    func send<T: Decodable>(_ call: OwnerAPICall, expecting type: T.Type,
                            say: (String) -> Void) throws(OwnerAPIFailure) -> (T, status: Int) {
        let reply = try exchange(call, say: say)
        let value = try OwnerAPIReply.decode(T.self, status: reply.status, contentType: reply.contentType, body: reply.body)
        return (value, reply.status)
    }

    /// One call; repeated (idempotent ones only) while no HTTP answer comes.
    private func exchange(_ call: OwnerAPICall, say: (String) -> Void) throws(OwnerAPIFailure) -> Reply {
        let tries = call.isIdempotent ? attempts : 1
        var failure = OwnerAPIFailure.transport("no attempt")
        for attempt in 1...tries {
            switch perform(call) {
            case .success(let reply): return reply
            case .failure(let error): failure = error
            }
            if attempt < tries {
                say("\(call): \(failure); asking again in \(pause) s (attempt \(attempt + 1) of \(tries); the VOS answers the same)")
                Thread.sleep(forTimeInterval: pause)
            }
        }
        throw failure
    }

    private func perform(_ call: OwnerAPICall) -> Result<Reply, OwnerAPIFailure> {
        let text = address.url(of: call)
        guard let url = URL(string: text) else { return .failure(.badAddress("\(text) is no URL")) }
        var request = URLRequest(url: url)
        request.httpMethod = call.method
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json, application/problem+json", forHTTPHeaderField: "Accept")
        request.setValue("spaak-phone", forHTTPHeaderField: "User-Agent")
        if let body = call.body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(body)
        }
        let box = ReplyBox()
        let address = address
        let task = session.dataTask(with: request) { data, response, error in
            let result: Result<Reply, OwnerAPIFailure>
            if let http = response as? HTTPURLResponse {
                result = .success(Reply(status: http.statusCode, contentType: http.value(forHTTPHeaderField: "Content-Type"),
                                        body: Array(data ?? Data())))
            } else {
                result = .failure(.transport("\(call) to \(address): no answer (\(error.map { "\($0.localizedDescription)" } ?? "no HTTP response"))"))
            }
            box.put(result)
        }
        task.resume()
        return box.take()
    }
}

/// Hands the answer from URLSession's delegate queue to the waiting command.
private final class ReplyBox: @unchecked Sendable {
    private let condition = NSCondition()
    private var result: Result<OwnerAPIClient.Reply, OwnerAPIFailure>?

    func put(_ value: Result<OwnerAPIClient.Reply, OwnerAPIFailure>) {
        condition.lock()
        result = value
        condition.signal()
        condition.unlock()
    }

    func take() -> Result<OwnerAPIClient.Reply, OwnerAPIFailure> {
        condition.lock()
        defer { condition.unlock() }
        while result == nil { condition.wait() }
        return result!
    }
}

/// Refuses redirects: a redirect's answer (3xx) is handed back as it is.
private final class NoRedirects: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void) {
        completionHandler(nil)
    }
}
