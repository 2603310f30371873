/// FacetStore: module entry (filled in by its issue).
public enum FacetStoreModule { public static let name = "FacetStore" }
