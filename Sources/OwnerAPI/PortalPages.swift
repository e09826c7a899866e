import OwnerServices

/// Who is signed in, for the page header.
public struct PortalSessionView: Sendable, Equatable {
    /// The user name.
    public var user: String
    /// "customer" or "help-centre agent".
    public var roleLabel: String
    /// The owner's pages (role `portal`).
    public var isCustomer: Bool
    /// The hotline page (role `hotline`).
    public var isAgent: Bool

    /// The header of a caller's pages.
    public init(caller: Caller) {
        user = caller.user
        isAgent = caller.role == .hotline
        isCustomer = !isAgent
        roleLabel = isAgent ? "help-centre agent" : "customer"
    }
}

/// One line of a vehicle's state: a label, the state as a badge, and details.
public struct PortalFact: Sendable, Equatable {
    /// What the line is about ("Pairing password").
    public var label: String
    /// The state word(s) shown in the badge.
    public var value: String
    /// The badge's colour class: `ok`, `warn`, `bad` or `neutral`.
    public var tone: String
    /// More text after the badge, `nil` for none.
    public var detail: String?

    /// Creates a fact (an empty detail becomes `nil`).
    public init(_ label: String, _ value: String, tone: String, detail: String? = nil) {
        self.label = label
        self.value = value
        self.tone = tone
        self.detail = detail.flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// One vehicle on the owner's page.
public struct PortalVehicleCard: Sendable, Equatable {
    /// The VIN as shown ("(not known yet)" when the vehicle has not reported one).
    public var vin: String
    /// The VIN for the forms' action paths (percent-encoded; the server checks its syntax).
    public var pathVIN: String
    /// The module's serial.
    public var serial: String
    /// Its state, line by line.
    public var facts: [PortalFact]
    /// Whether the pairing buttons are shown (a password can be delivered by link).
    public var canDeliver: Bool
    /// Why not, when they are not.
    public var deliveryNote: String?
}

/// One hotline request in a table.
public struct PortalRequestRow: Sendable, Equatable {
    /// The request id (32 hex digits).
    public var id: String
    /// Its first 8 digits, for the table.
    public var shortID: String
    /// The VIN.
    public var vin: String
    /// The agent who took it.
    public var agent: String
    /// `awaiting-authorization`, `sent` or `failed`.
    public var state: String
    /// The badge's colour class.
    public var tone: String
    /// The failure, `nil` for none.
    public var detail: String?
    /// When it was taken.
    public var createdAt: String
    /// When the owner authorized it, `nil` before.
    public var authorizedAt: String?
    /// The e-mail's Message-ID, `nil` before.
    public var messageId: String?
    /// Whether the owner may still authorize it.
    public var pending: Bool
}

/// One vehicle in the hotline's fleet table.
public struct PortalFleetRow: Sendable, Equatable {
    /// The module's serial.
    public var serial: String
    /// The VIN, "—" when unknown.
    public var vin: String
    /// The owner, "—" when none.
    public var owner: String
    /// The drmUUID, "—" before SP-02.
    public var drmUUID: String
    /// [K], the verifier, the password, the owner key, the last use case.
    public var identity: PortalFact
    public var verifier: PortalFact
    public var password: PortalFact
    public var ownerKey: PortalFact
    public var lastUseCase: PortalFact
}

/// `GET /portal`: the sign-in form.
public struct PortalSignInPage: PortalPage {
    public static let template = "signin"
    /// Never signed in on this page.
    public let session: PortalSessionView? = nil
    /// A sentence above the form ("Your session has ended"), `nil` for none.
    public var notice: String?

    /// Creates the page.
    public init(notice: String? = nil) { self.notice = notice }
}

/// Any refusal, as HTML: the problem's title, detail and reason.
public struct PortalErrorPage: PortalPage {
    public static let template = "error"
    /// The signed-in user, `nil` when the session is the problem.
    public var session: PortalSessionView?
    /// The HTTP status.
    public var status: Int
    /// The problem's title.
    public var problemTitle: String
    /// The problem's detail.
    public var detail: String
    /// The problem's reason.
    public var reason: String
    /// Where the link under the message goes, and its text.
    public var backPath: String
    public var backLabel: String

    /// The page of an owner service's refusal.
    public init(error: OwnerServiceError, session: PortalSessionView?) {
        self.session = session
        status = error.reason.status
        problemTitle = error.reason.title
        detail = error.detail
        reason = error.reason.rawValue
        switch (session?.isAgent, error.reason.status) {
        case (_, 401), (nil, _): (backPath, backLabel) = ("/portal", "Sign in")
        case (true?, _): (backPath, backLabel) = ("/portal/hotline", "Back to the hotline")
        default: (backPath, backLabel) = ("/portal/vehicles", "Back to my vehicles")
        }
    }
}

/// `GET /portal/vehicles`.
public struct PortalVehiclesPage: PortalPage {
    public static let template = "vehicles"
    public var session: PortalSessionView
    /// The owner's vehicles.
    public var vehicles: [PortalVehicleCard]
    /// The hotline requests for them.
    public var requests: [PortalRequestRow]
    /// Whether there are any (stored: the templates see stored properties only).
    public var hasRequests: Bool

    /// Creates the page.
    public init(session: PortalSessionView, vehicles: [PortalVehicleCard], requests: [PortalRequestRow]) {
        self.session = session
        self.vehicles = vehicles
        self.requests = requests
        hasRequests = !requests.isEmpty
    }
}

/// `POST /portal/vehicles/{vin}/link`: the deep link.
public struct PortalLinkPage: PortalPage {
    public static let template = "link"
    public var session: PortalSessionView
    public var vin: String
    /// `spaak://pair?vin=…&token=…`.
    public var deepLink: String
    public var expiresAt: String
}

/// `POST /portal/vehicles/{vin}/email`: the e-mail is in the outbox.
public struct PortalEmailPage: PortalPage {
    public static let template = "email"
    public var session: PortalSessionView
    public var vin: String
    /// The masked address.
    public var sentTo: String
    public var messageId: String
    public var expiresAt: String
}

/// A hotline request after it was created (agent) or authorized (owner).
public struct PortalRequestPage: PortalPage {
    public static let template = "request"
    public var session: PortalSessionView
    public var heading: String
    public var summary: String
    public var request: PortalRequestRow
    public var backPath: String
    public var backLabel: String
}

/// `GET /portal/hotline`: the request form, the requests, the fleet.
public struct PortalHotlinePage: PortalPage {
    public static let template = "hotline"
    public var session: PortalSessionView
    public var requests: [PortalRequestRow]
    /// Whether there are any (stored: the templates see stored properties only).
    public var hasRequests: Bool
    public var fleet: [PortalFleetRow]
    public var count: Int

    /// Creates the page.
    public init(session: PortalSessionView, requests: [PortalRequestRow], fleet: [PortalFleetRow]) {
        self.session = session
        self.requests = requests
        hasRequests = !requests.isEmpty
        self.fleet = fleet
        count = fleet.count
    }
}
