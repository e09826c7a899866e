import Foundation
import Mustache

/// A page of the portal: the data one mustache template renders (through `Mirror`: the
/// properties' names are the template's tags).
public protocol PortalPage: Sendable {
    /// The template's name (its file name in `Resources/Templates` without `.mustache`).
    static var template: String { get }
}

/// Why the portal's templates could not be loaded (the server does not start without them).
public struct PortalTemplateError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public var description: String
}

/// The portal's mustache templates and style sheet, loaded once at start-up from the
/// target's resources (`Resources/Templates`). Every `{{tag}}` is HTML-escaped by the
/// library (content type HTML); the templates use no triple mustache.
public struct PortalRenderer: Sendable {
    /// The templates every page needs.
    static let templateNames = ["layout", "signin", "error", "vehicles", "link", "email", "request", "hotline"]

    /// The loaded templates.
    let library: MustacheLibrary
    /// The style sheet, served at `/portal/portal.css`.
    public let styleSheet: String

    /// Loads the templates and the style sheet from a folder.
    /// - Throws: `PortalTemplateError` when a file is missing or a template does not parse.
    public init(directory: URL) throws(PortalTemplateError) {
        var library = MustacheLibrary()
        for name in Self.templateNames {
            let url = directory.appendingPathComponent(name + ".mustache")
            guard let text = try? String(contentsOf: url, encoding: .utf8) else {
                throw PortalTemplateError(description: "portal template \(url.path) cannot be read")
            }
            do {
                try library.register(text, named: name)
            } catch {
                throw PortalTemplateError(description: "portal template \(name): \(error)")
            }
        }
        let css = directory.appendingPathComponent("portal.css")
        guard let styleSheet = try? String(contentsOf: css, encoding: .utf8) else {
            throw PortalTemplateError(description: "portal style sheet \(css.path) cannot be read")
        }
        self.library = library
        self.styleSheet = styleSheet
    }

    /// Loads the templates shipped with the target (`Bundle.module`).
    public static func bundled() throws(PortalTemplateError) -> PortalRenderer {
        guard let resources = Bundle.module.url(forResource: "Resources", withExtension: nil) else {
            throw PortalTemplateError(description: "the OwnerAPI resource bundle has no Resources folder")
        }
        return try PortalRenderer(directory: resources.appendingPathComponent("Templates"))
    }

    /// The page's HTML.
    public func render<Page: PortalPage>(_ page: Page) -> String {
        guard let html = library.render(page, withTemplate: Page.template) else {
            preconditionFailure("portal template \(Page.template) is not in templateNames")
        }
        return html
    }
}
