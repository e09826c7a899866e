import Hummingbird
import JWTKit
import Mustache
import OwnerServices
