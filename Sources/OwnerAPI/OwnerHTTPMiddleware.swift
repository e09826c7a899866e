import Foundation
import Hummingbird
import OwnerServices
import Synchronization

/// The routes of the server (method and path pattern), to tell a wrong method (405 with
/// `Allow`) from an unknown path (404). Filled once every route is installed.
final class RouteTable: Sendable {
    private let routes = Mutex<[(method: String, path: RouterPath)]>([])

    /// Takes the router's routes.
    func set(_ routes: [(method: String, path: RouterPath)]) {
        self.routes.withLock { $0 = routes }
    }

    /// The methods of the routes whose pattern matches `path`, sorted.
    func methods(for path: String) -> [String] {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        let methods = routes.withLock { routes in
            routes.filter { Self.matches($0.path, segments) }.map(\.method)
        }
        return Set(methods).sorted()
    }

    /// Whether `pattern` matches the path's segments (a `**` matches the rest).
    static func matches(_ pattern: RouterPath, _ segments: [Substring]) -> Bool {
        let elements = Array(pattern)
        if let last = elements.last, last.description == "**" {
            guard segments.count >= elements.count - 1 else { return false }
            return zip(elements.dropLast(), segments).allSatisfy { $0 ~= $1 }
        }
        return elements.count == segments.count && zip(elements, segments).allSatisfy { $0 ~= $1 }
    }
}

/// The outermost middleware: every response of an error is a problem document, every
/// request is logged on one line.
///
/// - An `OwnerServiceError` becomes its problem (`WWW-Authenticate` on a 401).
/// - The router's "not found" becomes 405 `method-not-allowed` (with `Allow`) when the
///   path exists for other methods, else 404 `not-found`.
/// - Any other error becomes 500 `internal-error` (logged; its text is not sent).
struct OwnerHTTPMiddleware<Context: RequestContext>: RouterMiddleware {
    let routes: RouteTable
    let log: @Sendable (String) -> Void

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let note = RequestNote()
        let path = request.uri.path
        var response: Response
        do {
            response = try await RequestNote.$current.withValue(note) {
                try await next(request, context)
            }
        } catch let error as OwnerServiceError {
            response = OwnerResponses.problem(error, instance: path)
            note.record(reason: error.reason)
        } catch let error as HTTPError where error.status == .notFound {
            let allowed = routes.methods(for: path)
            let problem = allowed.isEmpty
                ? OwnerServiceError(.notFound, "no resource at \(RequestLogLine.printable(path, max: 200))")
                : OwnerServiceError(.methodNotAllowed, "\(request.method.rawValue) is not allowed here (\(allowed.joined(separator: ", ")))")
            response = OwnerResponses.problem(problem, instance: path, allow: allowed)
            note.record(reason: problem.reason)
        } catch let error as any HTTPResponseError where error.status.code < 500 {
            // Hummingbird's own refusals (e.g. a body it could not decode): the client's fault.
            response = OwnerResponses.problem(OwnerServiceError(.invalidRequest, "the request is malformed (\(error.status.code))"),
                                              instance: path)
            note.record(reason: .invalidRequest)
        } catch {
            log("http internal error on \(request.method.rawValue) \(RequestLogLine.printable(path, max: 200)): \(error)")
            response = OwnerResponses.problem(OwnerServiceError(.internalError, "the server failed; see its log"), instance: path)
            note.record(reason: .internalError)
        }
        log(RequestLogLine.format(method: request.method.rawValue, path: path, status: response.status.code, note: note,
                                  elapsed: ContinuousClock.now - start))
        return response
    }
}
