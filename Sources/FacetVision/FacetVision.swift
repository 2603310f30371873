/// FacetVision: module entry (filled in by its issue).
public enum FacetVisionModule { public static let name = "FacetVision" }
