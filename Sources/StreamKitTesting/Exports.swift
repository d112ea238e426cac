@_exported import StreamKit
