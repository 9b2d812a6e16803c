package org.ehragent.hapi;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.IValidationSupport;
import ca.uhn.fhir.jpa.api.config.JpaStorageSettings;
import ca.uhn.fhir.jpa.api.dao.IFhirSystemDao;
import ca.uhn.fhir.jpa.provider.IJpaSystemProvider;
import ca.uhn.fhir.jpa.provider.JpaCapabilityStatementProvider;
import ca.uhn.fhir.jpa.search.DatabaseBackedPagingProvider;
import ca.uhn.fhir.narrative2.NullNarrativeGenerator;
import ca.uhn.fhir.rest.api.EncodingEnum;
import ca.uhn.fhir.rest.server.IncomingRequestAddressStrategy;
import ca.uhn.fhir.rest.server.RestfulServer;
import ca.uhn.fhir.rest.server.provider.ResourceProviderFactory;
import ca.uhn.fhir.rest.server.util.ISearchParamRegistry;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.annotation.AnnotationConfigApplicationContext;

import java.nio.file.Path;

/**
 * Entry point: {@code java -jar hapi-server.jar [--port N] [--db DIR | --jdbc-url URL
 * [--db-user NAME]] [--host 127.0.0.1]}.
 *
 * <p>Starts HAPI FHIR JPA (R4) on H2 (in memory unless {@code --db DIR} is given), or on
 * PostgreSQL with {@code --jdbc-url jdbc:postgresql://HOST:PORT/DB} (password, if any, in
 * {@code EHR_AGENT_HAPI_DB_PASSWORD}), behind an
 * embedded Jetty 12 listening on 127.0.0.1 only, with the FHIR base at {@code /fhir}.
 * Prints {@code HAPI-READY http://127.0.0.1:PORT/fhir} on stdout once it serves requests.
 */
public final class HapiServerMain {

	private static final Logger ourLog = LoggerFactory.getLogger(HapiServerMain.class);

	private HapiServerMain() {}

	public static void main(String[] args) throws Exception {
		int port = 8080;
		String host = "127.0.0.1";
		String dbDir = null;
		String explicitJdbcUrl = null;
		String dbUser = null;
		int defaultPageSize = 20;
		int maxPageSize = 1000;
		for (int i = 0; i < args.length; i++) {
			String a = args[i];
			switch (a) {
				case "--port" -> port = Integer.parseInt(args[++i]);
				case "--host" -> host = args[++i];
				case "--db" -> dbDir = args[++i];
				case "--jdbc-url" -> explicitJdbcUrl = args[++i];
				case "--db-user" -> dbUser = args[++i];
				case "--default-page-size" -> defaultPageSize = Integer.parseInt(args[++i]);
				case "--max-page-size" -> maxPageSize = Integer.parseInt(args[++i]);
				case "-h", "--help" -> {
					System.out.println("usage: hapi-server [--port N] [--db DIR | --jdbc-url URL"
							+ " [--db-user NAME]] [--host ADDR]"
							+ " [--default-page-size N] [--max-page-size N]");
					return;
				}
				default -> throw new IllegalArgumentException("unknown argument: " + a);
			}
		}

		long t0 = System.nanoTime();
		String jdbcUrl;
		if (explicitJdbcUrl != null) {
			if (dbDir != null) {
				throw new IllegalArgumentException("give either --db DIR (H2) or --jdbc-url URL, not both");
			}
			if (!explicitJdbcUrl.startsWith("jdbc:postgresql:") && !explicitJdbcUrl.startsWith("jdbc:h2:")) {
				throw new IllegalArgumentException(
						"--jdbc-url must start with jdbc:postgresql: or jdbc:h2: (got another scheme)");
			}
			jdbcUrl = explicitJdbcUrl;
			if (dbUser != null) {
				System.setProperty(HapiServerConfig.DB_USER_PROPERTY, dbUser);
			}
		} else if (dbDir == null) {
			jdbcUrl = "jdbc:h2:mem:hapi;DB_CLOSE_DELAY=-1";
		} else {
			Path dir = Path.of(dbDir).toAbsolutePath();
			java.nio.file.Files.createDirectories(dir);
			jdbcUrl = "jdbc:h2:file:" + dir.resolve("hapi") + ";DB_CLOSE_ON_EXIT=FALSE";
		}
		System.setProperty(HapiServerConfig.JDBC_URL_PROPERTY, jdbcUrl);

		AnnotationConfigApplicationContext spring = new AnnotationConfigApplicationContext();
		spring.register(HapiServerConfig.class);
		spring.refresh();

		FhirContext fhirContext = spring.getBean(FhirContext.class);
		fhirContext.setNarrativeGenerator(new NullNarrativeGenerator());
		@SuppressWarnings("unchecked")
		IFhirSystemDao<?, ?> systemDao = spring.getBean(IFhirSystemDao.class);
		JpaStorageSettings storageSettings = spring.getBean(JpaStorageSettings.class);

		DatabaseBackedPagingProvider paging = spring.getBean(DatabaseBackedPagingProvider.class);
		paging.setDefaultPageSize(defaultPageSize);
		paging.setMaximumPageSize(maxPageSize);

		RestfulServer fhir = new RestfulServer(fhirContext);
		fhir.registerProviders(spring.getBean(ResourceProviderFactory.class).createProviders());
		fhir.registerProvider(spring.getBean(IJpaSystemProvider.class));
		fhir.setServerConformanceProvider(new JpaCapabilityStatementProvider(
				fhir,
				systemDao,
				storageSettings,
				spring.getBean(ISearchParamRegistry.class),
				spring.getBean(IValidationSupport.class)));
		fhir.setPagingProvider(paging);
		fhir.setDefaultResponseEncoding(EncodingEnum.JSON);
		fhir.setServerAddressStrategy(new IncomingRequestAddressStrategy());

		Server jetty = new Server();
		ServerConnector connector = new ServerConnector(jetty);
		connector.setHost(host);
		connector.setPort(port);
		jetty.addConnector(connector);
		ServletContextHandler handler = new ServletContextHandler(ServletContextHandler.NO_SESSIONS);
		handler.setContextPath("/");
		ServletHolder holder = new ServletHolder("fhir", fhir);
		holder.setInitOrder(1); // initialise the RestfulServer at start-up, not on first request
		handler.addServlet(holder, "/fhir/*");
		jetty.setHandler(handler);
		jetty.setStopAtShutdown(false);

		Runtime.getRuntime().addShutdownHook(new Thread(() -> {
			try {
				jetty.stop();
			} catch (Exception e) {
				ourLog.warn("Error stopping Jetty", e);
			}
			spring.close();
		}, "hapi-shutdown"));

		jetty.start();
		int actualPort = connector.getLocalPort();
		long ms = (System.nanoTime() - t0) / 1_000_000;
		String base = "http://" + host + ":" + actualPort + "/fhir";
		ourLog.info("HAPI FHIR JPA server ready at {} in {} ms ({})", base, ms, jdbcUrl);
		System.out.println("HAPI-READY " + base);
		System.out.flush();
		jetty.join();
	}
}
